/// The framing indicator that starts every binary HTTP message (RFC 9292 §3.3).
enum BinaryHTTPFraming: UInt64 {
    case knownLengthRequest = 0
    case knownLengthResponse = 1
    case indeterminateLengthRequest = 2
    case indeterminateLengthResponse = 3

    var isRequest: Bool {
        self == .knownLengthRequest || self == .indeterminateLengthRequest
    }

    var isKnownLength: Bool {
        self == .knownLengthRequest || self == .knownLengthResponse
    }
}
