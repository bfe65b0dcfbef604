/// The release of the SDK this module belongs to.
public enum SDKRelease {
    /// The SDK's version: the tag its published repository carries for this source, which packages name in
    /// `.package(url:from:)` and `confide new handler` writes by default.
    public static let version = "2.1.0"
}
