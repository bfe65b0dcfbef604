/// Bounds on what one KServe v2 message may hold. A message past any of them is refused with
/// ``KServeCodecError/Code/limitExceeded`` before memory is set aside for it.
public struct KServeLimits: Sendable, Equatable {
    /// The deepest nesting of JSON arrays and objects (default 32). The message object is level 1 and an
    /// input's `data` level 4, so nested `data` of rank *r* reaches 3 + *r*.
    public var maximumDepth: Int
    /// The most tensors in `inputs` (a request) or `outputs` (a response) (default 128).
    public var maximumTensors: Int
    /// The most entries in a request's `outputs` list (default 128).
    public var maximumRequestedOutputs: Int
    /// The longest tensor name, in bytes of UTF-8 (default 256).
    public var maximumNameLength: Int
    /// The longest request `id`, in bytes of UTF-8 (default 1024).
    public var maximumIDLength: Int
    /// The most dimensions of a shape (default 16).
    public var maximumRank: Int
    /// The most elements in all tensors of a message together (default 16,777,216: a 16 MiB body of
    /// one-byte elements).
    public var maximumElements: Int

    /// Limits with the documented defaults, changed where given.
    public init(
        maximumDepth: Int = 32, maximumTensors: Int = 128, maximumRequestedOutputs: Int = 128,
        maximumNameLength: Int = 256, maximumIDLength: Int = 1024, maximumRank: Int = 16,
        maximumElements: Int = 1 << 24
    ) {
        self.maximumDepth = maximumDepth
        self.maximumTensors = maximumTensors
        self.maximumRequestedOutputs = maximumRequestedOutputs
        self.maximumNameLength = maximumNameLength
        self.maximumIDLength = maximumIDLength
        self.maximumRank = maximumRank
        self.maximumElements = maximumElements
    }
}
