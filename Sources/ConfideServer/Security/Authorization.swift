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
    /// SHA-384 of the token file's bytes, recorded in the measurement log.
    public let fileDigest: [UInt8]

    /// Parses a token file's contents.
    public init(json bytes: [UInt8]) throws(AuthorizationError) {
        self.fileDigest = Array(SHA384.hash(data: bytes))
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw AuthorizationError("token file: \(error)")
        }
        guard let list = value.arrayValue else {
            throw AuthorizationError("token file: must hold a JSON list of tokens")
        }
        var entries: [Entry] = []
        for (index, item) in list.enumerated() {
            guard let object = item.objectValue else {
                throw AuthorizationError("token file: entry \(index) is not an object")
            }
            let known: Set<String> = ["name", "sha256", "scopes", "models"]
            if let unknown = object.keys.first(where: { !known.contains($0) }) {
                throw AuthorizationError("token file: entry \(index) has unknown key \"\(unknown)\"")
            }
            guard let name = object["name"]?.stringValue, !name.isEmpty else {
                throw AuthorizationError("token file: entry \(index) needs a \"name\"")
            }
            guard let hex = object["sha256"]?.stringValue, let digest = Hex.decode(hex), digest.count == 32 else {
                throw AuthorizationError(
                    "token file: token '\(name)' needs \"sha256\": 64 hex digits of the token's SHA-256")
            }
            guard let scopeNames = object["scopes"]?.arrayValue, !scopeNames.isEmpty else {
                throw AuthorizationError("token file: token '\(name)' needs \"scopes\"")
            }
            var scopes: Set<TokenScope> = []
            for scopeName in scopeNames {
                guard let scope = scopeName.stringValue.flatMap(TokenScope.init(rawValue:)) else {
                    throw AuthorizationError(
                        "token file: token '\(name)' has an unknown scope (known: inference, management)")
                }
                scopes.insert(scope)
            }
            var models: Set<String>?
            if let list = object["models"] {
                guard let names = list.arrayValue?.compactMap(\.stringValue), names.count == list.arrayValue?.count
                else {
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

/// Checks `Authorization: Bearer <token>` before a routed request reaches the API it guards (see
/// ``TokenStore/authorize(_:scope:access:)``). On routes whose models are not in the path (the OpenAI API's), the API
/// checks each model it uses against the ``ModelGrant`` handed on with the request. Public routes (probes, the
/// gateway, the evidence) pass without a token; the gateway's inner requests come back through this check.
public struct BearerAuthorization: RouteResponder {
    private let tokens: TokenStore
    private let scope: TokenScope
    private let next: any RouteResponder

    /// Guards `next`: every non-public route needs a token with `scope`.
    public init(tokens: TokenStore, scope: TokenScope, guarding next: any RouteResponder) {
        self.tokens = tokens
        self.scope = scope
        self.next = next
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        let grant: ModelGrant
        do throws(APIError) {
            grant = try tokens.authorize(
                request.request.headers.first(name: "Authorization"), scope: scope, access: request.route.access)
        } catch {
            return reply(.failure(error))
        }
        next.handle(RoutedRequest(route: request.route, request: request.request, grant: grant), reply: reply)
    }
}

extension TokenStore {
    /// Decides whether a call may proceed, for every API that takes bearer tokens (REST and gRPC alike), and what
    /// models it may use: `authorization` is the `Authorization` field (`Bearer <token>`), `scope` the listener's
    /// scope and `access` who may make the call. A missing or unknown token gets 401, a token without `scope` 403,
    /// and so does a token limited to some models on a call for another model or on a call that names no model.
    func authorize(_ authorization: String?, scope: TokenScope, access: RouteAccess) throws(APIError) -> ModelGrant {
        if access == .public { return .everyModel }
        guard let authorization, authorization.lowercased().hasPrefix("bearer "),
            let entry = entry(for: String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        else {
            throw APIError(.unauthorized, "a valid bearer token is required", headers: [("WWW-Authenticate", "Bearer")])
        }
        guard entry.scopes.contains(scope) else {
            throw APIError(.forbidden, "token '\(entry.name)' lacks the \(scope.rawValue) scope")
        }
        let grant = ModelGrant(token: entry.name, models: entry.models)
        switch access {
        case .model(let name): try grant.check(name)
        case .server where entry.models != nil:
            throw APIError(.forbidden, "token '\(entry.name)' is limited to some models and this call names none")
        case .public, .server, .modelsChosenByAPI: break
        }
        return grant
    }
}

/// The models a request's caller may use, as its bearer token says. An API whose models are not in the request's
/// path (``RouteAccess/modelsChosenByAPI``) checks each model it uses with ``check(_:)``.
public struct ModelGrant: Sendable, Equatable {
    /// Every model: no token file, or a token not limited to some models.
    public static let everyModel = ModelGrant(token: nil, models: nil)

    /// The token's name, for messages.
    let token: String?
    /// The models the token is limited to; `nil` for every model.
    let models: Set<String>?

    /// Whether the caller may use `model`.
    public func allows(_ model: String) -> Bool {
        models?.contains(model) ?? true
    }

    /// Refuses a model the caller may not use (403).
    public func check(_ model: String) throws(APIError) {
        guard allows(model) else {
            throw APIError(.forbidden, "token '\(token ?? "")' may not use model '\(Router.printable(model))'")
        }
    }
}
