import ArgumentParser
import ConfideHost
import ConfideJSON
import ConfideRuntime
import ConfideSDK
import ConfideTensors
import Foundation

/// `confide bench model`: engine-level throughput of a text model, without HTTP: the model's handler runs batches
/// of equal-length texts on one worker with an intra-op team of `--threads` cores, as a server's worker would.
/// This is the measurement to set next to PyTorch, ONNX Runtime or OpenVINO running the same model in-process.
/// With `--profile`, each configuration's measured calls are split by ``KernelProfiler`` into GEMM, attention, layer
/// norm, the handler's own code and the waiting inside parallel regions.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Measure a text model's sequences per second in-process, per batch size and precision.",
        discussion: """
            Each sequence is `--word` repeated sequence − 2 times: in a BERT vocabulary (and the synthetic one of \
            random-weight models) a short common word is one token, so with [CLS] and [SEP] every sequence is \
            exactly `--sequence` tokens. With `--sentences`, batches hold the file's texts instead, in turn (the \
            load `confide bench` sends, without HTTP). Tokenization is included in the time (a few microseconds \
            per sequence).

            With --profile, the handler gets a kernel table that times every kernel call and the threads' waits \
            inside parallel regions, and each configuration is followed by a table: per category, milliseconds per \
            batch, share of the forward pass and, for GEMMs, the achieved GFLOP/s (2·M·N·K per call over the calls' \
            whole time). Profiling adds two clock reads per kernel call and per parallel chunk.

            With --against-model-dir or --against-kernels, a second side B (another model folder, e.g. other \
            parameters; and/or the same-named kernel plugin from another folder, e.g. another build) is loaded \
            beside A, both run every configuration's batches call by call (A then B, then B then A) for --seconds \
            each, and each line gives both sides' sequences per second (from their median batch times) and A's \
            speed over B's as the median of the pairs' ratios with its quartiles: load that comes and goes slows \
            both calls of a pair alike.
            """)

    @Option(help: "A model-store entry: a folder holding model.json (and the model's files).")
    var modelDir: String

    @Option(help: "The folder scanned for plugins (*.so).")
    var handlers = "handlers"

    @Option(help: "Force a kernel plugin by name (default: the best this CPU supports, or $CONFIDE_KERNELS).")
    var kernels: String?

    @Option(help: "Comma-separated batch sizes (texts per handler call).")
    var batch = "1,8,32"

    @Option(help: "Tokens per sequence, [CLS] and [SEP] included.")
    var sequence = 128

    @Option(
        help: "Comma-separated precisions to set as the handler's \"precision\" parameter (default: model.json's).")
    var precisions: String?

    @Option(help: "Cores of the worker's intra-op team.")
    var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    @Option(help: "Measured seconds per configuration (after one unmeasured call).")
    var seconds = 5.0

    @Option(help: "The word a sequence repeats.")
    var word = "a"

    @Option(help: "A file with one text per line: batches take the next texts in turn instead of equal-length ones.")
    var sentences: String?

    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false

    @Flag(
        help: "Split each configuration's forward pass by kernel category (GEMM, attention, layer norm, waiting, ...).")
    var profile = false

    @Option(help: "Compare with this model folder (side B), call by call (see below).")
    var againstModelDir: String?

    @Option(help: "Compare with the same-named kernel plugin in this folder (side B), call by call (see below).")
    var againstKernels: String?

    func validate() throws {
        guard sequence >= 2 else { throw ValidationError("--sequence must be at least 2 ([CLS] and [SEP])") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard !word.isEmpty, !word.contains(where: \.isWhitespace) else {
            throw ValidationError("--word must be one word")
        }
        _ = try batchSizes()
        if profile, againstModelDir != nil || againstKernels != nil {
            throw ValidationError(
                "--profile times one side; it cannot be combined with --against-model-dir or --against-kernels")
        }
    }

    func run() throws {
        let registry = HandlerRegistry.scan(directory: handlers)
        let choice = try KernelSelection.activate(from: Array(registry.kernelPlugins.values), explicit: kernels)
        if againstModelDir != nil || againstKernels != nil {
            try runAgainst(registry: registry, kernels: choice)
            return
        }
        if profile {
            guard let chosen = choice.plugin else {
                throw ValidationError(
                    "--profile times kernel calls, but no kernel plugin is available (\(choice.reason))")
            }
            try KernelProfiler.serve(chosen)
        }
        let (stored, plugin, version) = try load(modelDir, registry: registry)
        let selected = selectedPrecisions()
        let texts = try corpus()
        if !json {
            print(headline(model: stored.name, handler: plugin.name, kernels: choice) + " s per configuration")
            print("precision  batch | sequences/s | batch p50 (ms)")
        }
        for precision in selected {
            let (config, label) = Self.loadConfig(stored, version, precision: precision)
            if profile { KernelProfiler.reset() }
            let model = try PluginModel(plugin: plugin, config: config)
            let packing = profile ? KernelProfiler.read()[.weightPacking] : KernelProfile.Entry()
            for size in try batchSizes() {
                let result = try measure(model, texts: texts, batch: size)
                report(model: stored.name, precision: label, batch: size, result, weightPacking: packing)
            }
        }
    }

    /// A model folder's stored model, its handler in `registry` and the version to load; warnings go to stderr.
    func load(_ directory: String, registry: HandlerRegistry) throws -> (
        StoredModel, LoadedPlugin, (name: String, path: String)
    ) {
        let folder = URL(fileURLWithPath: directory).standardizedFileURL
        let stored = try ModelStore(path: folder.deletingLastPathComponent().path).load(name: folder.lastPathComponent)
        guard let plugin = registry.plugins[stored.config.handler] else {
            throw ValidationError("no handler named '\(stored.config.handler)' in \(handlers)")
        }
        guard let version = stored.versions.first(where: { $0.name == stored.defaultVersion }) ?? stored.versions.first
        else { throw ValidationError("\(directory) has no version to load") }
        for warning in stored.config.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        return (stored, plugin, version)
    }

    /// The first line of a table: the model, its handler, the kernels, threads, texts and the seconds (their unit
    /// left to the caller).
    func headline(model: String, handler: String, kernels choice: KernelChoice) -> String {
        "model '\(model)' (handler '\(handler)'), kernels '\(choice.plugin?.name ?? "none")', \(threads) threads, "
            + "\(sentences.map { "texts of \($0)" } ?? "sequence \(sequence)"), \(seconds)"
    }

    /// The `--precisions` list; one nil (model.json's own) without it.
    func selectedPrecisions() -> [String?] {
        precisions.map { $0.split(separator: ",").map { String($0) } } ?? [nil]
    }

    /// The load configuration of `stored` with `precision` (nil: model.json's) as its "precision" parameter, and the
    /// precision's name for reports.
    static func loadConfig(_ stored: StoredModel, _ version: (name: String, path: String), precision: String?) -> (
        ModelLoadConfig, String
    ) {
        var parameters = stored.config.parameters
        if let precision { parameters["precision"] = .string(precision) }
        let label = precision ?? parameters["precision"]?.stringValue ?? "default"
        return (stored.withParameters(parameters).loadConfig(version: version), label)
    }

    /// The parsed `--batch` list.
    func batchSizes() throws -> [Int] {
        let sizes = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }),
            sizes.count == batch.split(separator: ",").count
        else { throw ValidationError("--batch must be a comma-separated list of positive integers") }
        return sizes
    }

    /// One configuration's measurement.
    struct Measurement: Sendable {
        var sequencesPerSecond: Double
        var batchMillisecondsP50: Double
        var calls: Int
        /// The measured calls' summed wall time.
        var nanoseconds: UInt64
        /// The kernel calls of the measured calls, with `--profile`.
        var profile: KernelProfile?
    }

    /// Makes a worker instance on a worker thread with an intra-op team of `threads` cores, as a server's worker
    /// does, and measures calls of `batch` of `texts` (taken in turn) on it.
    private func measure(_ model: PluginModel, texts: [String], batch: Int) throws -> Measurement {
        let batches = try requests(for: model, texts: texts, batch: batch)
        let worker = try WorkerThread(name: "bench-model", threads: threads)
        defer { worker.stop() }
        return try worker.run { () throws -> Measurement in
            let instance = try model.makeInstance(worker: WorkerInfo(coreCount: threads))
            return try Self.time(instance, batches, seconds: seconds, profile: profile)
        }
    }

    /// Batches of `batch` requests of one text each, the texts taken in turn, for `model`'s first input.
    func requests(for model: PluginModel, texts: [String], batch: Int) throws -> [[HostRequest]] {
        let name = model.inputs.first?.name ?? "text"
        return try stride(from: 0, to: texts.count, by: batch).map { first in
            try (first..<(first + batch)).map { index in
                guard let input = HostTensor(name: name, strings: [texts[index % texts.count]], shape: [1]) else {
                    throw ValidationError("out of memory for the input texts")
                }
                return HostRequest(inputs: [input])
            }
        }
    }

    /// The texts batches are made of: the `--sentences` file's lines, or one text of `--sequence` tokens.
    func corpus() throws -> [String] {
        guard let sentences else { return [Array(repeating: word, count: sequence - 2).joined(separator: " ")] }
        guard let data = FileManager.default.contents(atPath: sentences) else {
            throw ValidationError("cannot read \(sentences)")
        }
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { throw ValidationError("\(sentences) holds no text") }
        return lines
    }

    /// Calls the instance with each batch in turn, once unmeasured, then for `seconds`; with `profile`, reads the
    /// kernel profile of the measured calls.
    private static func time(_ instance: PluginInstance, _ batches: [[HostRequest]], seconds: Double, profile: Bool)
        throws -> Measurement
    {
        var next = 0
        func call() throws -> Int {
            let requests = batches[next % batches.count]
            next += 1
            for result in instance.execute(requests) {
                if case .failure(let error) = result { throw ValidationError("the handler failed: \(error.message)") }
            }
            return requests.count
        }
        _ = try call()
        if profile { KernelProfiler.reset() }
        var durations: [Double] = []
        var sequences = 0
        let start = BenchKernels.now()
        var now = start
        while now - start < seconds || durations.count < 3 {
            let begin = BenchKernels.now()
            sequences += try call()
            now = BenchKernels.now()
            durations.append(now - begin)
        }
        let profiled = profile ? KernelProfiler.read() : nil
        let busy = durations.reduce(0, +)
        durations.sort()
        return Measurement(
            sequencesPerSecond: Double(sequences) / (now - start),
            batchMillisecondsP50: durations[durations.count / 2] * 1000, calls: durations.count,
            nanoseconds: UInt64(busy * 1e9), profile: profiled)
    }

    private func report(
        model: String, precision: String, batch: Int, _ result: Measurement, weightPacking: KernelProfile.Entry
    ) {
        if json {
            var object = JSONObject([
                "model": .string(model), "precision": .string(precision), "batch": .integer(Int64(batch)),
                "sequence": sentences == nil ? .integer(Int64(sequence)) : .string("sentences"),
                "threads": .integer(Int64(threads)),
                "sequences_per_second": .double(result.sequencesPerSecond),
                "batch_ms_p50": .double(result.batchMillisecondsP50), "calls": .integer(Int64(result.calls)),
            ])
            if let profile = result.profile {
                object["profile"] = .object(
                    Self.profileJSON(profile, result, weightPacking: weightPacking))
            }
            print(String(decoding: JSONValue.object(object).serialized, as: UTF8.self))
        } else {
            print(
                precision.padding(toLength: 9, withPad: " ", startingAt: 0) + " "
                    + String(
                        format: "%6d | %11.1f | %14.2f", batch, result.sequencesPerSecond,
                        result.batchMillisecondsP50))
            if let profile = result.profile {
                Self.printProfile(profile, result, weightPacking: weightPacking)
            }
        }
    }

    /// The profile's rows per batch, for a table and JSON: the row, its milliseconds per batch, its share of the
    /// forward pass and its kernel calls per batch.
    private static func profileRows(_ profile: KernelProfile, _ result: Measurement)
        -> [(row: KernelProfile.Row, milliseconds: Double, share: Double, calls: Double)]
    {
        let batches = Double(max(1, result.calls))
        let rows = profile.breakdown(forwardNanoseconds: result.nanoseconds)
        let total = Double(max(1, rows.reduce(UInt64(0)) { $0 &+ $1.nanoseconds }))
        return rows.map { row in
            (row, Double(row.nanoseconds) / 1e6 / batches, Double(row.nanoseconds) / total, Double(row.calls) / batches)
        }
    }

    /// Prints the profile of one configuration under its result line; kernel categories that were not called are
    /// left out.
    private static func printProfile(
        _ profile: KernelProfile, _ result: Measurement, weightPacking: KernelProfile.Entry
    ) {
        print("    category                    | ms/batch |  share | calls/batch | GFLOP/s")
        var milliseconds = 0.0
        for (row, rowMilliseconds, share, calls) in profileRows(profile, result) {
            milliseconds += rowMilliseconds
            let kernelRow = !["outside_kernels", "waiting", "gemm_activation_packing"].contains(row.key)
            if kernelRow, row.calls == 0 { continue }
            let name = row.name.padding(toLength: 27, withPad: " ", startingAt: 0)
            let perBatch = kernelRow ? String(format: "%11.1f", calls) : String(repeating: " ", count: 11)
            let rate = row.gigaflopsPerSecond.map { String(format: " %7.1f", $0) } ?? ""
            let figures = String(format: " | %8.3f | %5.1f%% | ", rowMilliseconds, share * 100)
            print("    " + name + figures + perBatch + " |" + rate)
        }
        let name = "forward pass".padding(toLength: 27, withPad: " ", startingAt: 0)
        print("    " + name + String(format: " | %8.3f | 100.0%% |", milliseconds))
        if weightPacking.calls > 0 {
            print(
                String(
                    format: "    weights packed at load: %.1f ms in %d calls (not in the forward pass)",
                    Double(weightPacking.nanoseconds) / 1e6, weightPacking.calls))
        }
    }

    /// The profile of one configuration as JSON: every row (also those without calls), the forward pass per batch,
    /// the thread time spent waiting per batch, and the weight packing at load.
    private static func profileJSON(
        _ profile: KernelProfile, _ result: Measurement, weightPacking: KernelProfile.Entry
    ) -> JSONObject {
        let batches = Double(max(1, result.calls))
        let rows = profileRows(profile, result).map { row, milliseconds, share, calls in
            var object = JSONObject([
                "key": .string(row.key), "name": .string(row.name), "ms_per_batch": .double(milliseconds),
                "share": .double(share), "calls_per_batch": .double(calls),
            ])
            if let rate = row.gigaflopsPerSecond { object["gflops_per_second"] = .double(rate) }
            return JSONValue.object(object)
        }
        let waiting = KernelProfile.Category.allCases.reduce(UInt64(0)) { $0 &+ profile[$1].waitingThreadNanoseconds }
        return JSONObject([
            "rows": .array(rows), "forward_ms_per_batch": .double(Double(result.nanoseconds) / 1e6 / batches),
            "waiting_thread_ms_per_batch": .double(Double(waiting) / 1e6 / batches),
            "weight_packing_ms": .double(Double(weightPacking.nanoseconds) / 1e6),
            "weight_packing_calls": .integer(Int64(weightPacking.calls)),
        ])
    }
}
