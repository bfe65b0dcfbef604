package import ConfideJSON

/// Rebuilds the 1184 signed bytes of an SEV-SNP attestation report from the structure of fields that the
/// Confidential Containers attestation agent answers (the serde form of the `sev` crate's `AttestationReport`,
/// versions 6.x, which guest-components 0.18 and later use).
///
/// The agent parses the firmware's report into fields and drops the reserved bytes, which the firmware sets to zero;
/// this writes every field back at its offset (AMD SEV-SNP ABI, `ATTESTATION_REPORT`) and zeros between them, as the
/// crate's own `write_bytes` does. A report whose reserved bytes were not zero cannot be recovered this way: its
/// rebuilt bytes no longer match the signature, and a verifier refuses them.
///
/// The layout of each TCB version follows the report's processor generation, which the fields show: `"fmc": null` in
/// the Milan and Genoa layout (`bootloader, tee, 4 reserved, snp, microcode`), a number in Turin's (`fmc, bootloader,
/// tee, snp, 3 reserved, microcode`).
package enum AgentSNPReport {
    /// Rebuilds the report from the agent's `attestation_report` object.
    package static func rebuild(_ report: JSONObject) throws(AttestationError) -> [UInt8] {
        var fields = Fields(report)
        let version = try fields.unsigned("version", max: UInt64(UInt32.max))
        guard version >= 2 else {
            throw AttestationError(.unsupportedFormat, "SEV-SNP report version \(version) is older than 2")
        }
        let hasCPUID = version >= 3
        let hasMitigationVectors = version >= 5
        var layout = Layout()
        var out = Writer()
        out.integer(version, size: 4, at: 0x000)
        out.integer(try fields.unsigned("guest_svn", max: UInt64(UInt32.max)), size: 4, at: 0x004)
        out.integer(try fields.unsigned("policy", max: UInt64.max), size: 8, at: 0x008)
        out.write(try fields.bytes("family_id", count: 16), at: 0x010)
        out.write(try fields.bytes("image_id", count: 16), at: 0x020)
        out.integer(try fields.unsigned("vmpl", max: UInt64(UInt32.max)), size: 4, at: 0x030)
        out.integer(try fields.unsigned("sig_algo", max: UInt64(UInt32.max)), size: 4, at: 0x034)
        out.write(try fields.tcb("current_tcb", layout: &layout), at: 0x038)
        out.integer(try fields.unsigned("plat_info", max: UInt64.max), size: 8, at: 0x040)
        out.integer(try fields.unsigned("key_info", max: UInt64(UInt32.max)), size: 4, at: 0x048)
        out.write(try fields.bytes("report_data", count: 64), at: 0x050)
        out.write(try fields.bytes("measurement", count: 48), at: 0x090)
        out.write(try fields.bytes("host_data", count: 32), at: 0x0C0)
        out.write(try fields.bytes("id_key_digest", count: 48), at: 0x0E0)
        out.write(try fields.bytes("author_key_digest", count: 48), at: 0x110)
        out.write(try fields.bytes("report_id", count: 32), at: 0x140)
        out.write(try fields.bytes("report_id_ma", count: 32), at: 0x160)
        out.write(try fields.tcb("reported_tcb", layout: &layout), at: 0x180)
        for (offset, key) in [(0x188, "cpuid_fam_id"), (0x189, "cpuid_mod_id"), (0x18A, "cpuid_step")] {
            let value = try fields.optionalUnsigned(key, max: UInt64(UInt8.max), present: hasCPUID, version: version)
            out.integer(value ?? 0, size: 1, at: offset)
        }
        out.write(try fields.bytes("chip_id", count: 64), at: 0x1A0)
        out.write(try fields.tcb("committed_tcb", layout: &layout), at: 0x1E0)
        out.write(try fields.firmwareVersion("current"), at: 0x1E8)
        out.write(try fields.firmwareVersion("committed"), at: 0x1EC)
        out.write(try fields.tcb("launch_tcb", layout: &layout), at: 0x1F0)
        for (offset, key) in [(0x1F8, "launch_mit_vector"), (0x200, "current_mit_vector")] {
            let value = try fields.optionalUnsigned(
                key, max: UInt64.max, present: hasMitigationVectors, version: version)
            out.integer(value ?? 0, size: 8, at: offset)
        }
        let signature = try fields.object("signature")
        var signatureFields = Fields(signature, prefix: "signature.")
        out.write(try signatureFields.bytes("r", count: 72), at: 0x2A0)
        out.write(try signatureFields.bytes("s", count: 72), at: 0x2A0 + 72)
        try signatureFields.checkAllRead()
        try fields.checkAllRead()
        return out.bytes
    }

    /// A JSON array of exactly `count` bytes (any number of them when `count` is nil), each an integer 0 to 255.
    package static func byteArray(_ value: JSONValue, what: String, count: Int? = nil) throws(AttestationError)
        -> [UInt8]
    {
        guard let elements = value.arrayValue else {
            throw AttestationError(.malformed, "\(what) is \(value.kindName), not an array of bytes")
        }
        if let count, elements.count != count {
            throw AttestationError(.malformed, "\(what) holds \(elements.count) bytes, expected \(count)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .integer(let number) = element, let byte = UInt8(exactly: number) else {
                throw AttestationError(.malformed, "\(what)[\(index)] is not a byte (an integer 0 to 255)")
            }
            bytes.append(byte)
        }
        return bytes
    }

    /// The TCB layout a report's four TCB versions share.
    private struct Layout {
        /// Whether the fields carry `fmc` (Turin); `nil` until the first TCB version is read.
        var turin: Bool?
    }

    /// The report's fields, read once each, so that a field this code does not know is refused instead of dropped.
    private struct Fields {
        let object: JSONObject
        let prefix: String
        var read: Set<String> = []

        init(_ object: JSONObject, prefix: String = "") {
            self.object = object
            self.prefix = prefix
        }

        mutating func value(_ key: String) throws(AttestationError) -> JSONValue {
            self.read.insert(key)
            guard let value = self.object[key] else {
                throw AttestationError(.malformed, "the SEV-SNP report has no \(self.prefix)\(key)")
            }
            return value
        }

        mutating func unsigned(_ key: String, max: UInt64) throws(AttestationError) -> UInt64 {
            let value = try self.value(key)
            guard case .integer(let number) = value, let unsigned = UInt64(exactly: number), unsigned <= max else {
                throw AttestationError(
                    .malformed, "the SEV-SNP report's \(self.prefix)\(key) is not an integer from 0 to \(max)")
            }
            return unsigned
        }

        /// A field that is `null` in report versions without it and a number in those with it.
        mutating func optionalUnsigned(_ key: String, max: UInt64, present: Bool, version: UInt64)
            throws(AttestationError) -> UInt64?
        {
            if case .null = try self.value(key) {
                guard !present else {
                    throw AttestationError(.malformed, "the SEV-SNP report version \(version) has no \(key)")
                }
                return nil
            }
            guard present else {
                throw AttestationError(.malformed, "the SEV-SNP report version \(version) cannot have \(key)")
            }
            return try self.unsigned(key, max: max)
        }

        mutating func bytes(_ key: String, count: Int) throws(AttestationError) -> [UInt8] {
            try byteArray(try self.value(key), what: "the SEV-SNP report's \(self.prefix)\(key)", count: count)
        }

        mutating func object(_ key: String) throws(AttestationError) -> JSONObject {
            let value = try self.value(key)
            guard let object = value.objectValue else {
                throw AttestationError(.malformed, "the SEV-SNP report's \(self.prefix)\(key) is not an object")
            }
            return object
        }

        /// A TCB version `{"fmc", "bootloader", "tee", "snp", "microcode"}` as its 8 bytes.
        mutating func tcb(_ key: String, layout: inout Layout) throws(AttestationError) -> [UInt8] {
            var tcb = Fields(try self.object(key), prefix: "\(self.prefix)\(key).")
            let fmcValue = try tcb.value("fmc")
            let turin: Bool
            if case .null = fmcValue { turin = false } else { turin = true }
            if let shared = layout.turin, shared != turin {
                throw AttestationError(
                    .malformed, "the SEV-SNP report's \(key) has another TCB layout than its other TCB versions")
            }
            layout.turin = turin
            let fmc = turin ? try tcb.unsigned("fmc", max: 255) : 0
            let bootloader = try tcb.unsigned("bootloader", max: 255)
            let tee = try tcb.unsigned("tee", max: 255)
            let snp = try tcb.unsigned("snp", max: 255)
            let microcode = try tcb.unsigned("microcode", max: 255)
            try tcb.checkAllRead()
            let parts =
                turin
                ? [fmc, bootloader, tee, snp, 0, 0, 0, microcode] : [bootloader, tee, 0, 0, 0, 0, snp, microcode]
            return parts.map { UInt8(truncatingIfNeeded: $0) }
        }

        /// A firmware version `{"major", "minor", "build"}` as its 3 bytes, build first.
        mutating func firmwareVersion(_ key: String) throws(AttestationError) -> [UInt8] {
            var version = Fields(try self.object(key), prefix: "\(self.prefix)\(key).")
            let major = try version.unsigned("major", max: 255)
            let minor = try version.unsigned("minor", max: 255)
            let build = try version.unsigned("build", max: 255)
            try version.checkAllRead()
            return [build, minor, major].map { UInt8(truncatingIfNeeded: $0) }
        }

        func checkAllRead() throws(AttestationError) {
            if let unknown = self.object.keys.first(where: { !self.read.contains($0) }) {
                throw AttestationError(
                    .unsupportedFormat,
                    "the SEV-SNP report has a field this server does not know, \(self.prefix)"
                        + "\(AgentSNPReport.printable(unknown)): the agent's report layout is "
                        + "newer or older than the one the server rebuilds")
            }
        }
    }

    /// At most 200 characters of `text`, with anything but printable ASCII shown as `?`, for messages.
    package static func printable(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let shown = bytes.prefix(200).map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "?" }
        return String(shown) + (bytes.count > 200 ? "…" : "")
    }

    /// The report's bytes, zero where no field is written.
    private struct Writer {
        private(set) var bytes = [UInt8](repeating: 0, count: SNPReport.size)

        mutating func write(_ value: [UInt8], at offset: Int) {
            self.bytes.replaceSubrange(offset..<offset + value.count, with: value)
        }

        mutating func integer(_ value: UInt64, size: Int, at offset: Int) {
            let little = (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
            self.write(little, at: offset)
        }
    }
}
