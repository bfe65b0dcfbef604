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

    /// This platform status converged with the status of one of its parts (the TDX module or the quoting enclave),
    /// as Intel's QVL converges them: a `Revoked` part makes the platform `Revoked`, an `OutOfDate` part makes it
    /// `OutOfDate` (`OutOfDateConfigurationNeeded` when it needs configuration), and other statuses of a part leave
    /// the platform's as it is.
    public func converged(with part: TCBStatus) -> TCBStatus {
        switch (self, part) {
        case (.revoked, _), (_, .revoked):
            .revoked
        case (.upToDate, .outOfDate), (.swHardeningNeeded, .outOfDate), (.upToDate, .outOfDateConfigurationNeeded),
            (.swHardeningNeeded, .outOfDateConfigurationNeeded):
            .outOfDate
        case (.configurationNeeded, .outOfDate), (.configurationNeeded, .outOfDateConfigurationNeeded),
            (.configurationAndSWHardeningNeeded, .outOfDate),
            (.configurationAndSWHardeningNeeded, .outOfDateConfigurationNeeded):
            .outOfDateConfigurationNeeded
        default:
            self
        }
    }
}
