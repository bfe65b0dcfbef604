import ConfideAttestation
import Testing

/// Expects `body` to throw an ``AttestationError`` with `code`.
func expectError(
    _ code: AttestationError.ErrorCode,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    let error = #expect(throws: AttestationError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
}

/// Expects async `body` to throw an ``AttestationError`` with `code`.
func expectError(
    _ code: AttestationError.ErrorCode,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    let error = await #expect(throws: AttestationError.self, sourceLocation: sourceLocation) { try await body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
}
