#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Memory for tensor data: 64-byte aligned, owned by this object, freed with it.
///
/// The bytes are written once (by the server parsing a request, or by a handler filling an output)
/// before the buffer is shared, and only read afterwards.
public final class TensorBuffer: @unchecked Sendable {
    /// The start of the memory.
    public let baseAddress: UnsafeMutableRawPointer
    /// The number of bytes.
    public let count: Int

    /// Allocates `count` uninitialised bytes. Returns `nil` when the memory is not available.
    public init?(count: Int) {
        var pointer: UnsafeMutableRawPointer?
        guard count >= 0, posix_memalign(&pointer, 64, max(count, 1)) == 0, let pointer else { return nil }
        self.baseAddress = pointer
        self.count = count
    }

    /// Allocates a buffer holding a copy of `bytes`.
    public convenience init?(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if let source = bytes.baseAddress, !bytes.isEmpty {
            baseAddress.copyMemory(from: source, byteCount: bytes.count)
        }
    }

    /// Allocates a buffer holding a copy of `bytes`.
    public convenience init?(copying bytes: [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeBytes { source in
            if let start = source.baseAddress, !source.isEmpty {
                baseAddress.copyMemory(from: start, byteCount: source.count)
            }
        }
    }

    deinit { free(baseAddress) }

    /// The bytes, for reading.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: count) }
    /// The bytes, for the one writer that fills the buffer before sharing it.
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: baseAddress, count: count)
    }
}
