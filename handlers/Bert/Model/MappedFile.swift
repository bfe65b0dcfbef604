#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Read-only bytes that stay at one address for their lifetime: a file mapped with `mmap`, a copy in
/// 64-byte aligned memory, or bytes borrowed from a host that keeps them alive longer. Tensor views keep
/// their storage alive.
final class ByteStorage: @unchecked Sendable {
    /// The first byte.
    let base: UnsafeRawPointer
    /// The number of bytes.
    let count: Int
    private let kind: Kind

    private enum Kind {
        case mapped, copied, borrowed
    }

    /// Maps `path` read-only and private. The mapping outlives the file descriptor, which is closed at once.
    init(mapping path: String) throws(BertModelError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw BertModelError(code == ENOENT ? .fileNotFound : .io, "\(path): cannot open: \(Self.describe(code))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw BertModelError(.io, "\(path): cannot stat: \(Self.describe(errno))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw BertModelError(.io, "\(path): not a regular file") }
        let size = Int(status.st_size)
        guard size > 0 else { throw BertModelError.malformedSafeTensors("\(path): the file is empty") }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw BertModelError(.io, "\(path): cannot map \(size) bytes: \(Self.describe(errno))")
        }
        self.base = UnsafeRawPointer(address)
        self.count = size
        self.kind = .mapped
    }

    /// Copies `bytes` into 64-byte aligned memory.
    init(copying bytes: some Collection<UInt8>) {
        let count = bytes.count
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        let buffer = UnsafeMutableRawBufferPointer(start: memory, count: count)
        _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
        self.base = UnsafeRawPointer(memory)
        self.count = count
        self.kind = .copied
    }

    /// Uses `count` bytes at `base` where they are; the caller keeps them alive and unchanged for this object's
    /// lifetime.
    init(borrowing base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
        self.kind = .borrowed
    }

    deinit {
        switch kind {
        case .mapped: munmap(UnsafeMutableRawPointer(mutating: base), count)
        case .copied: base.deallocate()
        case .borrowed: break
        }
    }

    /// Gives a mapping's pages back to the page cache, so they stop counting in this process's resident
    /// memory; the bytes stay readable (a later read maps the page again). Copies are left as they are.
    func releaseResidentPages() {
        guard kind == .mapped else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_DONTNEED)
    }

    /// All the bytes.
    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    private static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
