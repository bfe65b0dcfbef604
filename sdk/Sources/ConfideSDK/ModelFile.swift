#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bytes of one of a model's files: in memory for a model loaded from an archive, or mapped
/// read-only from the model's folder. Valid while this object lives: keep a reference to it for as long
/// as the bytes are used (a handler keeps its weight files in its model state).
public final class ModelFile: @unchecked Sendable {
    /// The file's bytes, valid while this object lives.
    public let bytes: UnsafeRawBufferPointer
    private let mapping: (pointer: UnsafeMutableRawPointer, length: Int)?

    init(bytes: UnsafeRawBufferPointer, mapping: (UnsafeMutableRawPointer, Int)?) {
        self.bytes = bytes
        self.mapping = mapping
    }

    deinit {
        if let mapping { munmap(mapping.pointer, mapping.length) }
    }

    /// Runs `body` with the file's bytes, keeping the file alive during the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(bytes) }
    }
}

extension ModelContext {
    /// One of the model's files by its path relative to the model version's folder (e.g.
    /// `"model.safetensors"`): the in-memory artifact when the model came from an archive, otherwise
    /// the file in ``path``, memory-mapped read-only.
    public func file(_ name: String) throws(HandlerError) -> ModelFile {
        if let bytes = artifacts[name] { return ModelFile(bytes: bytes, mapping: nil) }
        guard !name.split(separator: "/").contains("..") else {
            throw .invalidArgument("file name '\(name)' leaves the model folder")
        }
        let filePath = path.hasSuffix("/") ? path + name : path + "/" + name
        let descriptor = open(filePath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .notFound("cannot open \(filePath)") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .internal("cannot stat \(filePath)") }
        let length = Int(status.st_size)
        guard length > 0 else { return ModelFile(bytes: UnsafeRawBufferPointer(start: nil, count: 0), mapping: nil) }
        guard let pointer = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), pointer != MAP_FAILED else {
            throw .internal("cannot map \(filePath)")
        }
        return ModelFile(bytes: UnsafeRawBufferPointer(start: pointer, count: length), mapping: (pointer, length))
    }
}
