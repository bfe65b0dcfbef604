public import ConfideMeasurement

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A register that evidence reports and that measurement events are anchored in, with the name the server's log
/// gives it (see `MeasurementLogSnapshot.json(register:)`).
public struct AnchoringRegister: Sendable {
    /// The register's name in the served log: `rtmr3`, `simulated-rtmr3` or `aael`.
    public let name: String
    /// What records each event.
    public let anchor: any MeasurementAnchor

    /// Names an anchor.
    public init(name: String, anchor: any MeasurementAnchor) {
        self.name = name
        self.anchor = anchor
    }
}

/// Extends TDX RTMR3 through the Linux TSM measurement interface (Linux 6.16 and later): each write of exactly 48
/// bytes to `rtmr3:sha384` extends the register with them.
public struct RTMR3Anchor: MeasurementAnchor {
    /// Where the kernel exposes RTMR3 for extension.
    public static let defaultPath = "/sys/class/misc/tdx_guest/measurements/rtmr3:sha384"

    /// The file written.
    public let path: String

    /// Uses the register file at `path`; `nil` when it does not exist (an older kernel, or not TDX).
    public init?(path: String = Self.defaultPath) {
        guard access(path, W_OK) == 0 else { return nil }
        self.path = path
    }

    /// Extends RTMR3 with the event's digest: one write of exactly its 48 bytes.
    public func anchor(_ event: MeasurementEvent) throws(MeasurementError) {
        let digest = event.eventDigest
        let descriptor = open(self.path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw MeasurementError("cannot open \(self.path) to extend RTMR3: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var written = -1
        repeat {
            written = digest.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        } while written < 0 && errno == EINTR
        guard written == digest.count else {
            throw MeasurementError("extending RTMR3 through \(self.path) failed: \(String(cString: strerror(errno)))")
        }
    }
}
