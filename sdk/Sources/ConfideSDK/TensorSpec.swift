/// The description of one model input or output, reported as model metadata.
public struct TensorSpec: Sendable, Hashable {
    /// The tensor's name.
    public var name: String
    /// The element type.
    public var dataType: DataType
    /// The shape; `-1` marks a dimension of any size.
    public var shape: [Int64]

    /// Creates a tensor description.
    public init(name: String, dataType: DataType, shape: [Int64]) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
    }
}
