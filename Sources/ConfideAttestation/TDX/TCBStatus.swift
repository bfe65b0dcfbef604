/// Intel's TCB status of a platform, a TDX module or a quoting enclave, as Intel's collateral states it.
public enum TCBStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The TCB is at the latest level.
    case upToDate = "UpToDate"
    /// The TCB is up to date, but software mitigations for the listed advisories are needed.
    case swHardeningNeeded = "SWHardeningNeeded"
    /// The TCB is up to date, but the platform's configuration must change (for example a BIOS setting).
    case configurationNeeded = "ConfigurationNeeded"
    /// Both ``configurationNeeded`` and ``swHardeningNeeded``.
    case configurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
    /// The TCB is below the latest level: security updates are missing.
    case outOfDate = "OutOfDate"
    /// Both ``outOfDate`` and ``configurationNeeded``.
    case outOfDateConfigurationNeeded = "OutOfDateConfigurationNeeded"
    /// The TCB level has been revoked; evidence from it is never accepted.
    case revoked = "Revoked"

    public var description: String {
        self.rawValue
    }

    /// The status of a platform whose parts have `self` and `other`: the union of what each needs, as Intel's QVL
    /// converges the platform's status with the TDX module's and the quoting enclave's (for example `OutOfDate`
    /// and `ConfigurationNeeded` give `OutOfDateConfigurationNeeded`).
    public func combined(with other: TCBStatus) -> TCBStatus {
        TCBStatus(needs: self.needs.union(other.needs))
    }

    private struct Needs: OptionSet {
        let rawValue: UInt8
        static let swHardening = Needs(rawValue: 1)
        static let configuration = Needs(rawValue: 2)
        static let update = Needs(rawValue: 4)
        static let revoked = Needs(rawValue: 8)
    }

    private var needs: Needs {
        switch self {
        case .upToDate: []
        case .swHardeningNeeded: [.swHardening]
        case .configurationNeeded: [.configuration]
        case .configurationAndSWHardeningNeeded: [.configuration, .swHardening]
        case .outOfDate: [.update]
        case .outOfDateConfigurationNeeded: [.update, .configuration]
        case .revoked: [.revoked]
        }
    }

    private init(needs: Needs) {
        if needs.contains(.revoked) {
            self = .revoked
        } else if needs.contains(.update) {
            self = needs.contains(.configuration) ? .outOfDateConfigurationNeeded : .outOfDate
        } else if needs.contains(.configuration) {
            self = needs.contains(.swHardening) ? .configurationAndSWHardeningNeeded : .configurationNeeded
        } else {
            self = needs.contains(.swHardening) ? .swHardeningNeeded : .upToDate
        }
    }
}
