#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

extension BinaryHTTPRequest {
    /// Checks that the request's `Date` header field is within `allowedSkew` of `now` (RFC 9458 §6.7). A gateway
    /// passes the ``GatewayClock/date`` of the clock its ``ReplayGuard`` reads, never the host's wall clock.
    ///
    /// Throws ``EnvelopeError/Code/missingDate``, ``EnvelopeError/Code/invalidDate`` or
    /// ``EnvelopeError/Code/dateOutsideSkew``; a gateway answers with its own `Date` so the client can correct.
    public func checkDate(now: Date, allowedSkew: Duration) throws(EnvelopeError) {
        guard let text = self.headerValue("date") else {
            throw .missingDate(reason: "the inner request has no Date header field")
        }
        let date = try HTTPDate.parse(text)
        let skew = Double(allowedSkew.components.seconds) + Double(allowedSkew.components.attoseconds) * 1e-18
        let offset = date.timeIntervalSince(now)
        guard abs(offset) <= skew else {
            let distance = Int(exactly: offset.rounded()).map { "\($0) s" } ?? "too far"
            throw .dateOutsideSkew(
                reason: "the inner request's Date is \(distance) from the gateway clock; "
                    + "\(allowedSkew.components.seconds) s allowed"
            )
        }
    }
}
