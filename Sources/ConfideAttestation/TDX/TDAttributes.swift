import ConfideJSON
import ConfideMeasurement

extension TDXQuoteVerifier {
    /// Checks the TD's attributes and service TD binding as dcap-qvl does, naming the first that fails: MRSERVICETD
    /// (TDX 1.5 bodies) is zero, so no service TD is bound to the TD; no reserved attribute bit is set (TUD bits
    /// 1–7, SEC bits 8–27 and 29, and the OTHER bits 32–38 and 40–63, which like dcap-qvl include PERFMON);
    /// DEBUG is clear unless `acceptDebug`; and SEPT_VE_DISABLE is set, so the host cannot turn accesses to pending
    /// private pages into #VE exceptions inside the TD.
    ///
    /// - Throws: ``AttestationError`` with ``AttestationError/ErrorCode/debugNotAllowed`` for a debug TD, and
    ///   ``AttestationError/ErrorCode/guestPolicyNotAllowed`` for every other failed check.
    public static func checkTDAttributes(_ body: TDXReportBody, acceptDebug: Bool) throws(AttestationError) {
        if let serviceTD = body.mrServiceTD, serviceTD.contains(where: { $0 != 0 }) {
            throw AttestationError(
                .guestPolicyNotAllowed, "MRSERVICETD is \(Hex.encode(serviceTD)), not zero: a service TD is bound")
        }
        let attributes = body.tdAttributes
        let byte = { (index: Int) -> UInt8 in index < attributes.count ? attributes[index] : 0 }
        let reserved = "the TD attributes \(Hex.encode(attributes)) set reserved bits"
        guard byte(0) & 0xFE == 0 else {
            throw AttestationError(.guestPolicyNotAllowed, reserved + " (TUD)")
        }
        guard acceptDebug || byte(0) & 0x01 == 0 else {
            throw AttestationError(.debugNotAllowed, "the TD has the debug attribute set")
        }
        guard byte(1) == 0, byte(2) == 0, byte(3) & 0x2F == 0, byte(4) & 0x7F == 0, byte(5) == 0, byte(6) == 0,
            byte(7) == 0
        else {
            throw AttestationError(.guestPolicyNotAllowed, reserved + " (SEC or OTHER)")
        }
        guard byte(3) & 0x10 != 0 else {
            throw AttestationError(
                .guestPolicyNotAllowed,
                "SEPT_VE_DISABLE (TD attribute bit 28) is not set in \(Hex.encode(attributes)): the host could "
                    + "inject #VE exceptions through pending pages")
        }
    }
}
