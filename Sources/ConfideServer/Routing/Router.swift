import ConfideJSON
public import NIOHTTP1

/// Turns a request's method and path into a ``Route``, once, the same way for every front end: plaintext
/// requests, the gateway's inner requests and the management API.
///
/// The path is split at `/` (empty segments are ignored). Fixed segments (`v2`, `models`, `infer`, ...) match
/// only as written: a percent-encoded character in one is no match, so `/v2/%6Dodels/x/infer` is a 404 for
/// everyone. Model and version segments are percent-decoded exactly once and must be valid UTF-8 without `/`,
/// control characters, `.` or `..`; a malformed escape is a 400. A known path with another method is a 405
/// naming the methods it accepts.
public struct Router: Sendable {
    /// The listener whose routes it knows.
    public let surface: Surface

    /// A router for the routes of `surface`.
    public init(surface: Surface) {
        self.surface = surface
    }

    /// The route of a request, or the error to answer (with the protocol whose format it is written in).
    public func route(method: HTTPMethod, path: String, query queryText: String) throws(RoutingError) -> Route {
        let segments = path.split(separator: "/")
        let family = family(of: segments)
        do throws(APIError) {
            guard path.first == "/" else {
                throw APIError(.badRequest, "the request target must be a path starting with '/'")
            }
            let query = try QueryParameters(parsing: queryText[...])
            let match: Match? =
                switch surface {
                case .inference: try inference(segments, query)
                case .management: try management(segments, query)
                case .metrics: segments.elementsEqual(["metrics"]) ? Match(.metrics, .kserve, [.GET]) : nil
                }
            guard let match else {
                throw APIError(.notFound, "no route for \(method.rawValue) \(Self.printable(path))")
            }
            guard let action = match.actions.first(where: { $0.method == method })?.action else {
                let names = match.actions.map(\.method.rawValue).joined(separator: ", ")
                throw APIError(
                    .methodNotAllowed, "\(Self.printable(path)) accepts \(names) only", headers: [("Allow", names)])
            }
            return Route(action, family: match.family, model: match.model, version: match.version, query: query)
        } catch {
            throw RoutingError(family: family, error: error)
        }
    }

    // MARK: Tables

    /// The methods a path accepts, the action each asks for, and what the path names.
    private struct Match {
        var actions: [(method: HTTPMethod, action: RouteAction)]
        var family: APIFamily
        var model: String?
        var version: String?

        init(
            _ action: RouteAction, _ family: APIFamily, _ methods: [HTTPMethod], model: String? = nil,
            version: String? = nil
        ) {
            self.init(methods.map { ($0, action) }, family, model: model, version: version)
        }

        init(
            _ actions: [(method: HTTPMethod, action: RouteAction)], _ family: APIFamily, model: String? = nil,
            version: String? = nil
        ) {
            self.actions = actions
            self.family = family
            self.model = model
            self.version = version
        }
    }

    private func inference(_ path: [Substring], _ query: QueryParameters) throws(APIError) -> Match? {
        switch path.first {
        case "v2":
            let rest = path.dropFirst()
            if rest.isEmpty { return Match(.serverMetadata, .kserve, [.GET]) }
            if rest.elementsEqual(["health", "live"]) { return Match(.live, .kserve, [.GET]) }
            if rest.elementsEqual(["health", "ready"]) { return Match(.ready, .kserve, [.GET]) }
            guard rest.first == "models", rest.count >= 2 else { return nil }
            let model = try Self.name(rest[rest.startIndex + 1], "model")
            var tail = rest.dropFirst(2)
            var version: String?
            if tail.first == "versions" {
                guard tail.count >= 2 else { return nil }
                version = try Self.name(tail[tail.startIndex + 1], "version")
                tail = tail.dropFirst(2)
            }
            if tail.isEmpty { return Match(.modelMetadata, .kserve, [.GET], model: model, version: version) }
            guard tail.count == 1 else { return nil }
            switch tail.first {
            case "ready": return Match(.modelReady, .kserve, [.GET], model: model, version: version)
            case "infer": return Match(.infer, .kserve, [.POST], model: model, version: version)
            default: return nil
            }
        case "ping":
            return path.count == 1 ? Match(.ping, .torchServe, [.GET]) : nil
        case "predictions":
            guard path.count == 2 || path.count == 3 else { return nil }
            let model = try Self.name(path[1], "model")
            let version = path.count == 3 ? try Self.name(path[2], "version") : nil
            return Match(.predict, .torchServe, [.POST, .PUT], model: model, version: version)
        case ".well-known":
            guard path.elementsEqual([".well-known", "ohttp-gateway"]) else { return nil }
            return Match([(.GET, .gatewayKeys), (.POST, .gatewayRequest)], .gateway)
        case "attestation":
            return path.count == 1 ? Match(.attestation, .kserve, [.GET]) : nil
        case "v1":
            if path.elementsEqual(["v1", "embeddings"]) { return Match(.embeddings, .openAI, [.POST]) }
            if path.elementsEqual(["v1", "rerank"]) { return Match(.rerank, .openAI, [.POST]) }
            if path.elementsEqual(["v1", "classify"]) { return Match(.classify, .openAI, [.POST]) }
            guard path.count >= 2, path[1] == "models" else { return nil }
            switch path.count {
            case 2: return Match(.openAIModels, .openAI, [.GET])
            case 3: return Match(.openAIModel, .openAI, [.GET], model: try Self.name(path[2], "model"))
            default: return nil
            }
        default:
            return nil
        }
    }

    private func management(_ path: [Substring], _ query: QueryParameters) throws(APIError) -> Match? {
        switch path.first {
        case "models":
            switch path.count {
            case 1:
                let model = try query["url"].map { (url: String) throws(APIError) in
                    guard !url.contains("://") else {
                        throw .badRequest(
                            "remote model URLs are refused: register a model of the model store by its name")
                    }
                    return try Self.checkName(url, "model")
                }
                return Match([(.GET, .listModels), (.POST, .registerModel)], .torchServe, model: model)
            case 2:
                let model = try Self.name(path[1], "model")
                return Match(
                    [(.GET, .describeModel), (.PUT, .scaleModel), (.DELETE, .unregisterModel)], .torchServe,
                    model: model)
            case 3:
                let model = try Self.name(path[1], "model")
                let version = try Self.name(path[2], "version")
                return Match(
                    [(.GET, .describeModel), (.PUT, .scaleModel), (.DELETE, .unregisterVersion)], .torchServe,
                    model: model, version: version)
            case 4 where path[3] == "set-default":
                let model = try Self.name(path[1], "model")
                let version = try Self.name(path[2], "version")
                return Match(.setDefaultVersion, .torchServe, [.PUT], model: model, version: version)
            default:
                return nil
            }
        case "v2":
            if path.elementsEqual(["v2", "repository", "index"]) { return Match(.repositoryIndex, .kserve, [.POST]) }
            guard path.count == 5, path[1] == "repository", path[2] == "models" else { return nil }
            let model = try Self.name(path[3], "model")
            switch path[4] {
            case "load": return Match(.repositoryLoad, .kserve, [.POST], model: model)
            case "unload": return Match(.repositoryUnload, .kserve, [.POST], model: model)
            default: return nil
            }
        default:
            return nil
        }
    }

    /// The protocol a path belongs to, for the format of its errors, from its first segment.
    private func family(of path: [Substring]) -> APIFamily {
        switch (surface, path.first) {
        case (.inference, "predictions"), (.inference, "ping"), (.management, "models"): .torchServe
        case (.inference, ".well-known"): .gateway
        case (.inference, "v1"): .openAI
        case (.management, _): path.first == "v2" ? .kserve : .torchServe
        default: .kserve
        }
    }

    // MARK: Names and paths

    /// A model or version name from a path segment: percent-decoded once, then checked.
    private static func name(_ segment: Substring, _ what: String) throws(APIError) -> String {
        guard let decoded = PercentDecoding.decode(segment) else {
            throw .badRequest("the \(what) name in the path is not valid percent-encoded UTF-8")
        }
        return try checkName(decoded, what)
    }

    /// Refuses names that no model store holds and that could be read differently elsewhere.
    static func checkName(_ name: String, _ what: String) throws(APIError) -> String {
        guard !name.isEmpty, name != ".", name != "..", name.utf8.count <= 255,
            !name.unicodeScalars.contains(where: { $0 == "/" || $0.properties.generalCategory == .control })
        else {
            throw .badRequest("'\(printable(name))' is not a valid \(what) name")
        }
        return name
    }

    /// Text from a request, shortened and with control characters escaped, for error messages.
    static func printable(_ text: some StringProtocol) -> String {
        let shortened = text.count > 200 ? text.prefix(200) + "..." : Substring(text)
        return shortened.unicodeScalars.map {
            $0.properties.generalCategory == .control ? "\\u{\(String($0.value, radix: 16))}" : String($0)
        }
        .joined()
    }
}

/// A request the router refuses: the error and the protocol whose format it is written in.
public struct RoutingError: Error, Sendable {
    /// The protocol the path belongs to.
    public let family: APIFamily
    /// The error to answer.
    public let error: APIError
}

/// The parameters of a query string, percent-decoded once (`+` is a space). A malformed escape, a repeated name
/// or more than ``maximumCount`` parameters is an error, so that no two readers can see different values.
public struct QueryParameters: Sendable, Equatable {
    /// The most parameters a query may have.
    public static let maximumCount = 32

    private var values: [String: String]

    /// No parameters.
    public init() {
        values = [:]
    }

    /// Parses a query string (without the `?`).
    public init(parsing query: Substring) throws(APIError) {
        values = [:]
        for pair in query.split(separator: "&") {
            guard values.count < Self.maximumCount else {
                throw .badRequest("the query has more than \(Self.maximumCount) parameters")
            }
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusIsSpace: true),
                let value = parts.count > 1 ? PercentDecoding.decode(parts[1], plusIsSpace: true) : ""
            else {
                throw .badRequest("the query is not valid percent-encoded UTF-8")
            }
            guard values.updateValue(value, forKey: name) == nil else {
                throw .badRequest("the query parameter '\(Router.printable(name))' appears more than once")
            }
        }
    }

    /// The value of a parameter.
    public subscript(name: String) -> String? { values[name] }

    /// An integer parameter within `range`, or `nil` when absent.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// Decoding of `%XX` escapes.
enum PercentDecoding {
    /// The text with its escapes decoded, or `nil` when an escape is malformed or the result is not UTF-8.
    static func decode(_ text: Substring, plusIsSpace: Bool = false) -> String? {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(Hex.value(ofDigit:)),
                    let low = iterator.next().flatMap(Hex.value(ofDigit:))
                else {
                    return nil
                }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
