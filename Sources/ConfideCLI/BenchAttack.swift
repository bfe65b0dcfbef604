import ArgumentParser
import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `confide bench attack`: hostile clients and well-behaved ones at once, against a server this machine runs.
struct BenchAttack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack",
        abstract: "Attack a server with resource-exhaustion clients while probing its health and serving good clients.",
        discussion: """
            For --seconds, at once: connections that send a head declaring the largest body and then nothing
            (--headers-only), clients that send a large BYTES request whose JSON answer is six times larger and
            never read it (--slow-readers), bodies of millions of small JSON objects (--json-bombs), connections
            that send nothing at all (--silent), and management queries whose paging overflows. Meanwhile
            --good-clients send small requests to --good-model one after another, and a probe asks
            GET /v2/health/live every --probe-interval-ms on a new connection. Afterwards it waits up to --linger
            seconds for the server to close the connections the attack held open. With --server-pid, the server's
            resident memory is sampled too. Loopback only: the URL must name 127.0.0.1, ::1 or localhost.
            """)

    @Option(help: "The server's inference API.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "The server's management API, for the overflowing paging queries; none when omitted.")
    var managementURL: String?

    @Option(help: "Seconds the attack lasts.")
    var seconds = 10.0

    @Option(help: "The model the hostile requests address.")
    var model = "echo"

    @Option(help: "The model the well-behaved clients use (its requests must all be answered).")
    var goodModel = "echo"

    @Option(help: "A bearer token the well-behaved clients and hostile requests send.")
    var token: String?

    @Option(help: "Connections that send a head declaring --body-bytes and nothing more.")
    var headersOnly = 150

    @Option(help: "Clients that send a BYTES request of --body-bytes 0x01 bytes and never read the answer.")
    var slowReaders = 6

    @Option(help: "Clients that keep sending --body-bytes of small JSON objects.")
    var jsonBombs = 3

    @Option(help: "Connections that send nothing.")
    var silent = 400

    @Option(help: "Well-behaved clients, each sending one small request after another.")
    var goodClients = 4

    @Option(help: "The size of the hostile bodies, in bytes (keep it at or under the server's --max-body-size).")
    var bodyBytes = 4 << 20

    @Option(help: "Milliseconds between health probes.")
    var probeIntervalMs = 50

    @Option(help: "Seconds to wait after the attack for the server to close the connections the attack held.")
    var linger = 10.0

    @Option(help: "The server's process id, to sample its resident memory.")
    var serverPid: Int32?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        guard let (host, port) = Self.loopback(url) else {
            throw ValidationError("--url must be a loopback http://host:port (127.0.0.1, [::1] or localhost)")
        }
        var managementPort: Int?
        if let managementURL {
            guard let (_, port) = Self.loopback(managementURL) else {
                throw ValidationError("--management-url must be loopback")
            }
            managementPort = port
        }
        let attack = Attack(host: host, port: port, managementPort: managementPort, options: self)
        let report = try await attack.run()
        print(json ? String(decoding: report.json.serialized, as: UTF8.self) : report.text)
    }

    /// The host and port of a loopback URL.
    private static func loopback(_ url: String) -> (String, Int)? {
        guard let components = URLComponents(string: url), let host = components.host,
            ["127.0.0.1", "::1", "localhost"].contains(host)
        else { return nil }
        return (host, components.port ?? 80)
    }
}

/// One run of the attack: the hostile clients, the good ones, the probe and the memory sampler.
private struct Attack: Sendable {
    let host: String
    let port: Int
    let managementPort: Int?
    let options: BenchAttack

    init(host: String, port: Int, managementPort: Int?, options: BenchAttack) {
        self.host = host
        self.port = port
        self.managementPort = managementPort
        self.options = options
    }

    func run() async throws -> AttackReport {
        let report = AttackReport()
        report.baseRSS = options.serverPid.flatMap(Self.residentBytes) ?? 0
        var held: [any Channel] = []
        held += try await open(options.silent) { _ in }
        held += try await open(options.headersOnly) { channel in
            let head =
                "POST /v2/models/\(options.model)/infer HTTP/1.1\r\nHost: \(host):\(port)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(options.bodyBytes)\r\n\r\n"
            channel.writeAndFlush(ByteBuffer(string: head), promise: nil)
        }
        held += try await open(options.slowReaders, reading: false) { channel in
            channel.writeAndFlush(slowReaderRequest(), promise: nil)
        }
        let closedByServer = Atomic<Int>(0)
        for channel in held {
            channel.closeFuture.whenComplete { _ in closedByServer.add(1, ordering: .relaxed) }
        }
        let end = ContinuousClock.now + .seconds(options.seconds)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await probe(until: end, into: report) }
            group.addTask { await sampleMemory(until: end, into: report) }
            for _ in 0..<options.goodClients {
                group.addTask { await goodClient(until: end, into: report) }
            }
            for index in 0..<options.jsonBombs {
                group.addTask { await jsonBomb(index, until: end, into: report) }
            }
            if let managementPort {
                group.addTask { await overflowPaging(managementPort, until: end, into: report) }
            }
        }
        // The server's timeouts end every held connection; give the last ones opened time to reach theirs.
        let linger = ContinuousClock.now + .seconds(options.linger)
        while closedByServer.load(ordering: .relaxed) < held.count, ContinuousClock.now < linger {
            try? await Task.sleep(for: .milliseconds(100))
        }
        report.heldConnections = held.count
        report.closedByServer = closedByServer.load(ordering: .relaxed)
        for channel in held { channel.close(promise: nil) }
        return report
    }

    /// Opens `count` connections that do what `start` says; with `reading` off they never read what arrives.
    private func open(_ count: Int, reading: Bool = true, _ start: @escaping @Sendable (any Channel) -> Void)
        async throws -> [any Channel]
    {
        var channels: [any Channel] = []
        for _ in 0..<count {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.autoRead, value: reading)
                .channelOption(.socketOption(.so_rcvbuf), value: 4096)
                .connect(host: host, port: port).get()
            start(channel)
            channels.append(channel)
        }
        return channels
    }

    /// A KServe request with one BYTES element of `bodyBytes` 0x01 bytes, in the binary extension: the echo
    /// handler's JSON answer spells each byte as `\u0001`.
    private func slowReaderRequest() -> ByteBuffer {
        let size = max(options.bodyBytes - 256, 1)
        let header =
            #"{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":"#
            + "\(size + 4)}}]}"
        var body = ByteBuffer(string: header)
        body.writeInteger(UInt32(size), endianness: .little)
        body.writeRepeatingByte(1, count: size)
        var request = ByteBuffer(
            string: "POST /v2/models/\(options.model)/infer HTTP/1.1\r\nHost: \(host):\(port)\r\n"
                + authorization + "Content-Type: application/octet-stream\r\n"
                + "Inference-Header-Content-Length: \(header.utf8.count)\r\nContent-Length: \(body.readableBytes)\r\n\r\n"
        )
        request.writeBuffer(&body)
        return request
    }

    private var authorization: String { options.token.map { "Authorization: Bearer \($0)\r\n" } ?? "" }

    private var tokenHeaders: HTTPHeaders {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let token = options.token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return headers
    }

    /// `GET /v2/health/live` on a new connection every interval, as a kubelet does.
    private func probe(until end: ContinuousClock.Instant, into report: AttackReport) async {
        let interval = Duration.milliseconds(options.probeIntervalMs)
        while ContinuousClock.now < end {
            let started = ContinuousClock.now
            let answered = await withTimeout(.seconds(2)) { [host, port] () async throws -> Bool in
                let connection = try await HTTPConnection.connect(host: host, port: port)
                defer { Task { await connection.close() } }
                return try await connection.send(ClientRequest(method: .GET, uri: "/v2/health/live")).status == .ok
            }
            report.recordProbe(answered == true ? ContinuousClock.now - started : nil)
            try? await Task.sleep(until: started + interval)
        }
    }

    /// Small requests to the good model, one after another on a kept-alive connection (reopened when the server
    /// closes it before answering, which only happens to a connection with no request in progress).
    private func goodClient(until end: ContinuousClock.Instant, into report: AttackReport) async {
        let body = ByteBuffer(string: #"{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[7]}]}"#)
        let request = ClientRequest(
            method: .POST, uri: "/v2/models/\(options.goodModel)/infer", headers: tokenHeaders, body: body)
        var connection: HTTPConnection?
        while ContinuousClock.now < end {
            do {
                if connection == nil { connection = try await HTTPConnection.connect(host: host, port: port) }
                guard let open = connection else { continue }
                let response = try await open.send(request)
                report.recordGood(response)
            } catch {
                report.recordReconnect()
                if let closing = connection { await closing.close() }
                connection = nil
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        if let connection { await connection.close() }
    }

    /// Bodies of small JSON objects, in the tensor data and in the parameters, one after another.
    private func jsonBomb(_ index: Int, until end: ContinuousClock.Instant, into report: AttackReport) async {
        let object = Array(#"{"a":0},"#.utf8)
        let count = max(options.bodyBytes - 200, 0) / object.count
        var objects: [UInt8] = []
        objects.reserveCapacity(count * object.count)
        for _ in 0..<count { objects += object }
        let head =
            index % 2 == 0
            ? #"{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":["#
            : #"{"parameters":{"p":["#
        let tail = index % 2 == 0 ? "0]}]}" : #"0]},"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[0]}]}"#
        var body = ByteBuffer(string: head)
        body.writeBytes(objects)
        body.writeString(tail)
        let request = ClientRequest(
            method: .POST, uri: "/v2/models/\(options.model)/infer", headers: tokenHeaders, body: body)
        while ContinuousClock.now < end {
            do {
                let connection = try await HTTPConnection.connect(host: host, port: port)
                let response = try await connection.send(request)
                await connection.close()
                report.recordHostile(response.status)
            } catch {
                report.recordHostile(nil)
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Paging queries whose offset and limit overflow when added.
    private func overflowPaging(_ managementPort: Int, until end: ContinuousClock.Instant, into report: AttackReport)
        async
    {
        let targets = ["/models?limit=1&next_page_token=9223372036854775807", "/models?limit=9223372036854775807"]
        var index = 0
        while ContinuousClock.now < end {
            var headers = HTTPHeaders()
            if let token = options.token { headers.add(name: "Authorization", value: "Bearer \(token)") }
            do {
                let connection = try await HTTPConnection.connect(host: host, port: managementPort)
                let response = try await connection.send(
                    ClientRequest(method: .GET, uri: targets[index % 2], headers: headers))
                await connection.close()
                report.recordHostile(response.status)
            } catch {
                report.recordHostile(nil)
            }
            index += 1
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The server's resident memory every 50 ms.
    private func sampleMemory(until end: ContinuousClock.Instant, into report: AttackReport) async {
        guard let pid = options.serverPid else { return }
        while ContinuousClock.now < end {
            if let bytes = Self.residentBytes(pid) { report.recordRSS(bytes) }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// `VmRSS` of a process, in bytes.
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }
}

/// Runs `body`, giving up after `limit`: `nil` when it failed or took longer.
private func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { try? await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// What the attack observed.
private final class AttackReport: Sendable {
    private struct State {
        var probes: [Duration] = []
        var failedProbes = 0
        var good: [UInt: Int] = [:]
        var goodWrongAnswers = 0
        var reconnects = 0
        var hostile: [UInt: Int] = [:]
        var hostileDropped = 0
        var peakRSS = 0
        var baseRSS = 0
        var heldConnections = 0
        var closedByServer = 0
    }

    private let state = Mutex(State())

    var baseRSS: Int {
        get { state.withLock { $0.baseRSS } }
        set { state.withLock { $0.baseRSS = newValue } }
    }

    var heldConnections: Int {
        get { state.withLock { $0.heldConnections } }
        set { state.withLock { $0.heldConnections = newValue } }
    }

    var closedByServer: Int {
        get { state.withLock { $0.closedByServer } }
        set { state.withLock { $0.closedByServer = newValue } }
    }

    func recordProbe(_ latency: Duration?) {
        state.withLock { state in
            if let latency { state.probes.append(latency) } else { state.failedProbes += 1 }
        }
    }

    func recordGood(_ response: ClientResponse) {
        let correct = response.status != .ok || response.text.contains(#""data":[7]"#)
        let refusedWell = response.status != .serviceUnavailable || response.headers.contains(name: "Retry-After")
        state.withLock { state in
            state.good[response.status.code, default: 0] += 1
            if !correct || !refusedWell { state.goodWrongAnswers += 1 }
        }
    }

    func recordReconnect() {
        state.withLock { $0.reconnects += 1 }
    }

    func recordHostile(_ status: HTTPResponseStatus?) {
        state.withLock { state in
            if let status { state.hostile[status.code, default: 0] += 1 } else { state.hostileDropped += 1 }
        }
    }

    func recordRSS(_ bytes: Int) {
        state.withLock { $0.peakRSS = max($0.peakRSS, bytes) }
    }

    var json: JSONValue {
        state.withLock { state in
            let probes = state.probes.sorted()
            func quantile(_ q: Double) -> JSONValue {
                guard !probes.isEmpty else { return .null }
                let index = min(probes.count - 1, max(0, Int((q * Double(probes.count)).rounded(.up)) - 1))
                return .double((probes[index].secondsValue * 1e6).rounded() / 1000)
            }
            func counts(_ table: [UInt: Int]) -> JSONValue {
                var object = JSONObject()
                for (code, count) in table.sorted(by: { $0.key < $1.key }) {
                    object[String(code)] = .integer(Int64(count))
                }
                return .object(object)
            }
            return .object(
                JSONObject([
                    "probes": .integer(Int64(probes.count)), "failed_probes": .integer(Int64(state.failedProbes)),
                    "probe_p50_ms": quantile(0.5), "probe_p99_ms": quantile(0.99), "probe_max_ms": quantile(1),
                    "good": counts(state.good), "good_wrong_answers": .integer(Int64(state.goodWrongAnswers)),
                    "good_reconnects": .integer(Int64(state.reconnects)),
                    "hostile": counts(state.hostile), "hostile_dropped": .integer(Int64(state.hostileDropped)),
                    "held_connections": .integer(Int64(state.heldConnections)),
                    "closed_by_server": .integer(Int64(state.closedByServer)),
                    "base_rss_bytes": .integer(Int64(state.baseRSS)), "peak_rss_bytes": .integer(Int64(state.peakRSS)),
                ]))
        }
    }

    var text: String {
        guard case .object(let object) = json else { return "" }
        return object.keys.sorted().map {
            "\($0): \(String(decoding: (object[$0] ?? .null).serialized, as: UTF8.self))"
        }
        .joined(separator: "\n")
    }
}
