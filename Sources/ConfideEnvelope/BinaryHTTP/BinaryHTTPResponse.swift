/// An HTTP response in binary HTTP form (RFC 9292): the inner response of an Oblivious HTTP message.
///
/// Only the final response is kept; informational (1xx) responses are skipped when decoding.
public struct BinaryHTTPResponse: Hashable, Sendable {
    /// The final status code, 200 to 599.
    public var status: Int

    /// The header fields, in order.
    public var headerFields: [BinaryHTTPField]

    /// The content (body).
    public var content: [UInt8]

    /// The trailer fields, in order.
    public var trailerFields: [BinaryHTTPField]

    /// Creates a response.
    public init(
        status: Int,
        headerFields: [BinaryHTTPField] = [],
        content: [UInt8] = [],
        trailerFields: [BinaryHTTPField] = []
    ) {
        self.status = status
        self.headerFields = headerFields
        self.content = content
        self.trailerFields = trailerFields
    }

    /// Decodes a known-length (framing 1) or indeterminate-length (framing 3) response.
    ///
    /// Informational responses are skipped; trailing empty sections may be truncated and zero padding may follow.
    /// Throws ``EnvelopeError/Code/malformedBinaryHTTP`` or ``EnvelopeError/Code/binaryHTTPLimitExceeded``.
    public init(decoding bytes: [UInt8], limits: BinaryHTTPLimits = BinaryHTTPLimits()) throws(EnvelopeError) {
        self = try BinaryHTTPDecoder.decode(bytes, limits: limits) { decoder throws(EnvelopeError) in
            guard !decoder.isRequest else {
                throw .malformedBinaryHTTP(reason: "framing indicator is a request, expected a response")
            }
            var status = try decoder.readStatus()
            var informationalCount = 0
            while status < 200 {
                informationalCount += 1
                guard informationalCount <= limits.maximumInformationalResponses else {
                    throw .binaryHTTPLimitExceeded(
                        reason: "more than \(limits.maximumInformationalResponses) informational responses"
                    )
                }
                _ = try decoder.readFieldSection("informational header")
                status = try decoder.readStatus()
            }
            let headerFields = try decoder.readFieldSection("header")
            let content = try decoder.readContent()
            let trailerFields = try decoder.readFieldSection("trailer")
            try decoder.readPadding()
            return BinaryHTTPResponse(
                status: status,
                headerFields: headerFields,
                content: content,
                trailerFields: trailerFields
            )
        }
    }

    /// Encodes the response in known-length form (framing 1), with every section present.
    ///
    /// Throws ``EnvelopeError/Code/invalidArgument`` when the status is not final (200 to 599) or a field is not
    /// valid HTTP.
    public func encoded() throws(EnvelopeError) -> [UInt8] {
        guard (200...599).contains(self.status) else {
            throw .invalidArgument(reason: "status \(self.status) is not a final status code")
        }
        var encoder = try BinaryHTTPEncoder(framing: .knownLengthResponse)
        try encoder.writeStatus(self.status)
        try encoder.writeFieldSection(self.headerFields)
        try encoder.writeContent(self.content)
        try encoder.writeFieldSection(self.trailerFields)
        return encoder.bytes
    }

    /// The value of the first header field called `name` (compared without regard to ASCII case), if any.
    public func headerValue(_ name: String) -> String? {
        let wanted = String(decoding: name.utf8.map(HTTPSyntax.lowercased), as: UTF8.self)
        return self.headerFields.first { $0.name == wanted }?.value
    }
}
