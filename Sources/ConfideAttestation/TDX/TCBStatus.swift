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

    /// This status converged with the status of a part (the TDX module or the quoting enclave): the more severe of
    /// the two, in the order in which the cases are declared (``upToDate`` least, ``revoked`` most), as dcap-qvl
    /// merges them. `ConfigurationNeeded` and `OutOfDate` thus converge to `OutOfDate`.
    public func converged(with part: TCBStatus) -> TCBStatus {
        part.severity > self.severity ? part : self
    }

    /// The rank of this status in the order of ``converged(with:)``.
    private var severity: Int {
        Self.allCases.firstIndex(of: self) ?? 0
    }
}
