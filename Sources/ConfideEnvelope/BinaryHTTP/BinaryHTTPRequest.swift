/// An HTTP request in binary HTTP form (RFC 9292): the inner request of an Oblivious HTTP message.
public struct BinaryHTTPRequest: Hashable, Sendable {
    /// The request method, such as `POST`.
    public var method: String

    /// The target URI's scheme, such as `https`.
    public var scheme: String

    /// The target URI's authority; may be empty.
    public var authority: String

    /// The target URI's path and query, such as `/v2/models/minilm/infer`.
    public var path: String

    /// The header fields, in order.
    public var headerFields: [BinaryHTTPField]

    /// The content (body).
    public var content: [UInt8]

    /// The trailer fields, in order.
    public var trailerFields: [BinaryHTTPField]

    /// Creates a request.
    public init(
        method: String,
        scheme: String = "https",
        authority: String = "",
        path: String,
        headerFields: [BinaryHTTPField] = [],
        content: [UInt8] = [],
        trailerFields: [BinaryHTTPField] = []
    ) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.headerFields = headerFields
        self.content = content
        self.trailerFields = trailerFields
    }

    /// Decodes a known-length (framing 0) or indeterminate-length (framing 2) request.
    ///
    /// Trailing empty sections may be truncated and zero padding may follow, as RFC 9292 §3.8 allows.
    /// Throws ``EnvelopeError/Code/malformedBinaryHTTP`` or ``EnvelopeError/Code/binaryHTTPLimitExceeded``.
    public init(decoding bytes: [UInt8], limits: BinaryHTTPLimits = BinaryHTTPLimits()) throws(EnvelopeError) {
        self = try BinaryHTTPDecoder.decode(bytes, limits: limits) { decoder throws(EnvelopeError) in
            guard decoder.isRequest else {
                throw .malformedBinaryHTTP(reason: "framing indicator is a response, expected a request")
            }
            let method = try decoder.readControlData("method", allowsEmpty: false, isAllowed: HTTPSyntax.isTokenByte)
            let scheme = try decoder.readControlData("scheme", allowsEmpty: false, isAllowed: HTTPSyntax.isSchemeByte)
            let authority = try decoder.readControlData(
                "authority",
                allowsEmpty: true,
                isAllowed: HTTPSyntax.isVisibleASCII
            )
            let path = try decoder.readControlData("path", allowsEmpty: true, isAllowed: HTTPSyntax.isVisibleASCII)
            let headerFields = try decoder.readFieldSection("header")
            let content = try decoder.readContent()
            let trailerFields = try decoder.readFieldSection("trailer")
            try decoder.readPadding()
            return BinaryHTTPRequest(
                method: method,
                scheme: scheme,
                authority: authority,
                path: path,
                headerFields: headerFields,
                content: content,
                trailerFields: trailerFields
            )
        }
    }

    /// Encodes the request in known-length form (framing 0), with every section present.
    ///
    /// Throws ``EnvelopeError/Code/invalidArgument`` when control data or a field is not valid HTTP.
    public func encoded() throws(EnvelopeError) -> [UInt8] {
        var encoder = try BinaryHTTPEncoder(framing: .knownLengthRequest)
        try encoder.writeControlData(self.method, "method", allowsEmpty: false, isAllowed: HTTPSyntax.isTokenByte)
        try encoder.writeControlData(self.scheme, "scheme", allowsEmpty: false, isAllowed: HTTPSyntax.isSchemeByte)
        try encoder.writeControlData(
            self.authority,
            "authority",
            allowsEmpty: true,
            isAllowed: HTTPSyntax.isVisibleASCII
        )
        try encoder.writeControlData(self.path, "path", allowsEmpty: true, isAllowed: HTTPSyntax.isVisibleASCII)
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
