import Foundation

/// Produces TDX quotes or SEV-SNP reports through the Linux configfs-tsm interface
/// (`/sys/kernel/config/tsm/report/<entry>/`).
///
/// Each request writes the report data to `inblob`, reads the evidence from `outblob` (and for SEV-SNP the
/// certificate table from `auxblob` when the host supplies one, served as ``Endorsements/snpCertificates``), and
/// reads `generation` before and after: the kernel counts every write, so a count that did not advance by exactly
/// this provider's own write means another writer changed the request in between, and the evidence is refused. With
/// a fixed ``entryName`` concurrent requests can collide that way; the default, a fresh entry per request, avoids it.
public struct ConfigFSTSMProvider: EvidenceProvider {
    /// Where the kernel mounts configfs-tsm reports.
    public static let defaultRoot = "/sys/kernel/config/tsm/report"

    /// The configfs-tsm directory holding report entries.
    public let root: String
    /// The entry used for every request, or `nil` to create (and remove) a fresh entry per request.
    public let entryName: String?
    /// The kind of evidence this provider produces, from the entry's `provider` file.
    public let evidenceType: EvidenceType

    private let rtmr3: RTMR3Anchor?
    private let afterInblobWrite: (@Sendable (_ entry: String) throws -> Void)?

    /// Creates a provider after checking which TEE configfs-tsm reports.
    ///
    /// - Parameters:
    ///   - expected: The evidence the caller wants (``EvidenceType/tdxQuote`` or ``EvidenceType/snpReport``), or
    ///     `nil` to accept whichever the machine provides.
    ///   - root: The configfs-tsm report directory; tests point it at a fake tree.
    ///   - entryName: A fixed entry to use (created if missing, never removed), or `nil` for a fresh one per request.
    ///   - rtmr3Path: Where TDX's RTMR3 can be extended (see ``RTMR3Anchor``); used when the file exists.
    /// - Throws: ``AttestationError/ErrorCode/providerUnavailable`` when configfs-tsm is absent or reports an unknown
    ///   provider, ``AttestationError/ErrorCode/providerMismatch`` when it is not the expected one.
    public init(
        expected: EvidenceType? = nil,
        root: String = Self.defaultRoot,
        entryName: String? = nil,
        rtmr3Path: String = RTMR3Anchor.defaultPath
    ) throws(AttestationError) {
        try self.init(
            expected: expected, root: root, entryName: entryName, rtmr3Path: rtmr3Path, afterInblobWrite: nil)
    }

    /// Creates a provider with a hook run right after `inblob` is written, so that a fake tree can play the kernel.
    package init(
        expected: EvidenceType?,
        root: String,
        entryName: String?,
        rtmr3Path: String = RTMR3Anchor.defaultPath,
        afterInblobWrite: (@Sendable (_ entry: String) throws -> Void)?
    ) throws(AttestationError) {
        self.root = root
        self.entryName = entryName
        self.afterInblobWrite = afterInblobWrite
        let entry = try TSMEntry.open(root: root, name: entryName)
        defer { entry.close() }
        let found = try entry.evidenceType()
        if let expected, expected != found {
            throw AttestationError(
                .providerMismatch,
                "configfs-tsm provides \(found.rawValue), not \(expected.rawValue)"
            )
        }
        self.evidenceType = found
        self.rtmr3 = found == .tdxQuote ? RTMR3Anchor(path: rtmr3Path) : nil
    }

    public var isInsecure: Bool { false }

    /// RTMR3, when the machine is TDX and the kernel lets it be extended.
    public var anchoringRegister: AnchoringRegister? {
        self.rtmr3.map { AnchoringRegister(name: "rtmr3", anchor: $0) }
    }

    /// Asks the kernel for evidence carrying `reportData` (64 bytes).
    ///
    /// The file operations block while the kernel obtains the quote or report from the TEE.
    public func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        guard reportData.count == 64 else {
            throw AttestationError(.invalidArgument, "report data is \(reportData.count) bytes, expected 64")
        }
        let entry = try TSMEntry.open(root: self.root, name: self.entryName)
        defer { entry.close() }
        let found = try entry.evidenceType()
        guard found == self.evidenceType else {
            throw AttestationError(.providerMismatch, "configfs-tsm now provides \(found.rawValue)")
        }
        let before = try entry.generation()
        try entry.write("inblob", reportData)
        if let afterInblobWrite = self.afterInblobWrite {
            do {
                try afterInblobWrite(entry.path)
            } catch {
                throw AttestationError(.io, "configfs-tsm hook failed: \(error)")
            }
        }
        let bytes = try entry.read("outblob")
        let table = self.evidenceType == .snpReport && entry.exists("auxblob") ? try entry.read("auxblob") : []
        let after = try entry.generation()
        guard after == before &+ 1 else {
            throw AttestationError(
                .concurrentRequest,
                "configfs-tsm generation went from \(before) to \(after): another writer changed the request"
            )
        }
        guard !bytes.isEmpty else {
            throw AttestationError(.io, "configfs-tsm returned empty evidence")
        }
        var endorsements = Endorsements()
        if !table.isEmpty {
            let certificates = try SNPCertificateTable.entries(ofTable: table)
            if !certificates.isEmpty {
                endorsements.snpCertificates = try SNPCertificateTable.pem(fromEntries: certificates)
            }
        }
        return Evidence(type: self.evidenceType, bytes: bytes, endorsements: endorsements)
    }
}
