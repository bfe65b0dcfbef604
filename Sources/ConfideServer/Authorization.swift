import ConfideJSON
import Crypto
import Foundation
import NIOHTTP1

/// What a token may do.
public enum TokenScope: String, Sendable, CaseIterable {
    /// Call the inference APIs (optionally only for listed models).
    case inference
    /// Call the management API.
    case management
}

/// The bearer tokens the operator allows, from a token file: a JSON list of
/// `{"name": "...", "sha256": "<hex SHA-256 of the token>", "scopes": ["inference", "management"],
/// "models": ["optional", "list"]}`. Only hashes are stored; tokens never appear in logs or metrics.
public struct TokenStore: Sendable {
    /// One allowed token.
    public struct Entry: Sendable {
        /// The token's name, for people (never the token itself).
        public let name: String
        let digest: [UInt8]
        /// Its scopes.
        public let scopes: Set<TokenScope>
        /// The models an inference token is limited to; `nil` for every model.
        public let models: Set<String>?
    }

    /// The allowed tokens.
    public let entries: [Entry]

    /// Parses a token file's contents.
    public init(json bytes: [UInt8]) throws(AuthorizationError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw AuthorizationError("token file: \(error)")
        }
        guard let list = value.arrayValue else { throw AuthorizationError("token file: must hold a JSON list of tokens") }
        var entries: [Entry] = []
        for (index, item) in list.enumerated() {
            guard let object = item.objectValue else { throw AuthorizationError("token file: entry \(index) is not an object") }
            let known: Set<String> = ["name", "sha256", "scopes", "models"]
            if let unknown = object.keys.first(where: { !known.contains($0) }) {
                throw AuthorizationError("token file: entry \(index) has unknown key \"\(unknown)\"")
            }
            guard let name = object["name"]?.stringValue, !name.isEmpty else {
                throw AuthorizationError("token file: entry \(index) needs a \"name\"")
            }
            guard let hex = object["sha256"]?.stringValue, let digest = Self.bytes(hex: hex), digest.count == 32 else {
                throw AuthorizationError("token file: token '\(name)' needs \"sha256\": 64 hex digits of the token's SHA-256")
            }
            guard let scopeNames = object["scopes"]?.arrayValue, !scopeNames.isEmpty else {
                throw AuthorizationError("token file: token '\(name)' needs \"scopes\"")
            }
            var scopes: Set<TokenScope> = []
            for scopeName in scopeNames {
                guard let scope = scopeName.stringValue.flatMap(TokenScope.init(rawValue:)) else {
                    throw AuthorizationError("token file: token '\(name)' has an unknown scope (known: inference, management)")
                }
                scopes.insert(scope)
            }
            var models: Set<String>?
            if let list = object["models"] {
                guard let names = list.arrayValue?.compactMap(\.stringValue), names.count == list.arrayValue?.count else {
                    throw AuthorizationError("token file: token '\(name)': \"models\" must be a list of model names")
                }
                models = Set(names)
            }
            entries.append(Entry(name: name, digest: digest, scopes: scopes, models: models))
        }
        self.entries = entries
    }

    /// Reads a token file.
    public init(contentsOf path: String) throws(AuthorizationError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AuthorizationError("cannot read the token file \(path)")
        }
        try self.init(json: Array(data))
    }

    /// The entry whose token is `token`. Hashes the token and compares it with every entry in constant
    /// time, so neither the match nor its position leaks through timing.
    func entry(for token: String) -> Entry? {
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        var match: Entry?
        for entry in entries {
            var difference: UInt8 = 0
            for (left, right) in zip(entry.digest, digest) { difference |= left ^ right }
            if difference == 0 { match = entry }
        }
        return match
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}

/// A problem with the token file.
public struct AuthorizationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Checks `Authorization: Bearer <token>` before a request reaches the API it guards: a missing or
/// unknown token gets 401, a token without the scope (or, for inference, the model) gets 403.
/// Requests that `isPublic` exempts (health probes) pass without a token.
public struct BearerAuthorization: RequestResponder {
    private let tokens: TokenStore
    private let scope: TokenScope
    private let inner: any RequestResponder
    private let isPublic: @Sendable (ServerRequest) -> Bool
    private let model: @Sendable (ServerRequest) -> String?
    private let format: @Sendable (APIError) -> ServerResponse

    /// Guards `inner`: every request needs a token with `scope`; `model` names the model a request
    /// addresses (for tokens limited to models).
    public init(
        tokens: TokenStore, scope: TokenScope, guarding inner: any RequestResponder,
        isPublic: @escaping @Sendable (ServerRequest) -> Bool = { _ in false },
        model: @escaping @Sendable (ServerRequest) -> String? = { _ in nil }
    ) {
        self.tokens = tokens
        self.scope = scope
        self.inner = inner
        self.isPublic = isPublic
        self.model = model
        self.format = scope == .management ? ErrorResponses.torchServe : ErrorResponses.kserve
    }

    public func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        if isPublic(request) { return inner.handle(request, respond: respond) }
        guard let header = request.headers.first(name: "Authorization"), header.lowercased().hasPrefix("bearer "),
              let entry = tokens.entry(for: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        else {
            var response = format(APIError(.unauthorized, "a valid bearer token is required"))
            response.headers.add(name: "WWW-Authenticate", value: "Bearer")
            return respond(response)
        }
        guard entry.scopes.contains(scope) else {
            return respond(format(APIError(.forbidden, "token '\(entry.name)' lacks the \(scope.rawValue) scope")))
        }
        if let allowed = entry.models, let name = model(request), !allowed.contains(name) {
            return respond(format(APIError(.forbidden, "token '\(entry.name)' may not use model '\(name)'")))
        }
        inner.handle(request, respond: respond)
    }
}

extension BearerAuthorization {
    /// Health probes stay open: Kubernetes calls them without credentials.
    public static func isProbe(_ request: ServerRequest) -> Bool {
        ["/v2/health/live", "/v2/health/ready", "/ping"].contains(request.path)
    }

    /// The model an inference request addresses: `/v2/models/{model}/...` or `/predictions/{model}/...`.
    public static func inferenceModel(_ request: ServerRequest) -> String? {
        let path = request.pathSegments
        if path.count >= 3, path[0] == "v2", path[1] == "models" { return PercentDecoding.decode(path[2]) }
        if path.count >= 2, path[0] == "predictions" { return PercentDecoding.decode(path[1]) }
        return nil
    }
}
