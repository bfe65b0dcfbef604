/// Bounds that a binary HTTP decoder enforces on untrusted messages.
public struct BinaryHTTPLimits: Hashable, Sendable {
    /// The largest method, scheme, authority or path, in bytes.
    public var maximumControlDataLength: Int

    /// The largest encoded header or trailer section, in bytes.
    public var maximumFieldSectionSize: Int

    /// The most field lines in one header or trailer section.
    public var maximumFieldCount: Int

    /// The largest content, in bytes.
    public var maximumContentSize: Int

    /// The most informational (1xx) responses accepted before a final response.
    public var maximumInformationalResponses: Int

    /// Creates limits; the defaults suit inference API requests.
    public init(
        maximumControlDataLength: Int = 8 * 1024,
        maximumFieldSectionSize: Int = 64 * 1024,
        maximumFieldCount: Int = 256,
        maximumContentSize: Int = 64 * 1024 * 1024,
        maximumInformationalResponses: Int = 8
    ) {
        self.maximumControlDataLength = maximumControlDataLength
        self.maximumFieldSectionSize = maximumFieldSectionSize
        self.maximumFieldCount = maximumFieldCount
        self.maximumContentSize = maximumContentSize
        self.maximumInformationalResponses = maximumInformationalResponses
    }
}
