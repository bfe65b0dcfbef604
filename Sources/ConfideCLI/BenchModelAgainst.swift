import ArgumentParser
import ConfideHost
import ConfideJSON
import ConfideRuntime
import ConfideSDK
import Foundation

/// `confide bench model --against-model-dir` / `--against-kernels`: two sides of one model measured call by call.
extension BenchModel {
    /// Loads side A (`--model-dir` with the chosen kernels) and side B (`--against-model-dir`, else the same folder,
    /// loaded while the same-named kernel plugin of `--against-kernels` is the host's table, if given) for each
    /// precision, and reports per batch size both sides' speed and A's over B's from interleaved calls.
    func runAgainst(registry: HandlerRegistry, kernels choice: KernelChoice) throws {
        let (storedA, pluginA, versionA) = try load(modelDir, registry: registry)
        let (storedB, pluginB, versionB) =
            try againstModelDir.map { try load($0, registry: registry) } ?? (storedA, pluginA, versionA)
        var otherKernels: LoadedPlugin?
        if let againstKernels {
            guard let chosen = choice.plugin else {
                throw ValidationError(
                    "--against-kernels compares kernel plugins, but none is chosen (\(choice.reason))")
            }
            guard let other = HandlerRegistry.scan(directory: againstKernels).kernelPlugins[chosen.name] else {
                throw ValidationError("no kernel plugin '\(chosen.name)' in \(againstKernels) to compare with")
            }
            otherKernels = other
        }
        let texts = try corpus()
        if !json {
            print(
                headline(model: storedA.name, handler: pluginA.name, kernels: choice)
                    + " s per configuration and side, calls interleaved")
            print("A: \(modelDir) with the kernels of \(handlers)")
            print("B: \(againstModelDir ?? modelDir) with the kernels of \(againstKernels ?? handlers)")
            print("precision  batch | A seq/s  B seq/s | A/B speed: median (quartiles)  pairs")
        }
        for precision in selectedPrecisions() {
            let (configA, label) = Self.loadConfig(storedA, versionA, precision: precision)
            let (configB, _) = Self.loadConfig(storedB, versionB, precision: precision)
            let modelA = try PluginModel(plugin: pluginA, config: configA)
            // The handler keeps the kernel table it got at load: B loads while the other build is the host's, and A's
            // is the host's again for the next precision's A.
            if let otherKernels { try HostAPI.useKernels(otherKernels) }
            defer { if otherKernels != nil { try? HostAPI.useKernels(choice.plugin) } }
            let modelB = try PluginModel(plugin: pluginB, config: configB)
            for size in try batchSizes() {
                let times = try measurePaired([modelA, modelB], texts: texts, batch: size)
                reportPaired(model: storedA.name, precision: label, batch: size, times)
            }
        }
    }

    /// Both models' instances on one worker thread with an intra-op team of `threads` cores, their calls of `batch`
    /// texts interleaved for `seconds` per side.
    private func measurePaired(_ models: [PluginModel], texts: [String], batch: Int) throws -> PairedTimes {
        let batches = try models.map { model in try requests(for: model, texts: texts, batch: batch) }
        let worker = try WorkerThread(name: "bench-model", threads: threads)
        defer { worker.stop() }
        return try worker.run { () throws -> PairedTimes in
            let instances = try models.map { try $0.makeInstance(worker: WorkerInfo(coreCount: threads)) }
            var next = [0, 0]
            return try PairedTimes.measure(seconds: seconds) { side in
                let requests = batches[side][next[side] % batches[side].count]
                next[side] += 1
                for result in instances[side].execute(requests) {
                    if case .failure(let error) = result {
                        throw ValidationError("side \(side == 0 ? "A" : "B"): the handler failed: \(error.message)")
                    }
                }
            }
        }
    }

    private func reportPaired(model: String, precision: String, batch: Int, _ times: PairedTimes) {
        let a = Double(batch) / times.a.median
        let b = Double(batch) / times.b.median
        let ratio = times.ratios
        if json {
            let object = JSONObject([
                "model": .string(model), "precision": .string(precision), "batch": .integer(Int64(batch)),
                "sequence": sentences == nil ? .integer(Int64(sequence)) : .string("sentences"),
                "threads": .integer(Int64(threads)), "a_sequences_per_second": .double(a),
                "b_sequences_per_second": .double(b), "a_over_b_median": .double(ratio.median),
                "a_over_b_lower_quartile": .double(ratio.lower), "a_over_b_upper_quartile": .double(ratio.upper),
                "pairs": .integer(Int64(ratio.values.count)),
            ])
            print(String(decoding: JSONValue.object(object).serialized, as: UTF8.self))
        } else {
            print(
                precision.padding(toLength: 9, withPad: " ", startingAt: 0) + " "
                    + String(
                        format: "%6d | %7.1f  %7.1f | %.3f (%.3f–%.3f)  %d", batch, a, b, ratio.median, ratio.lower,
                        ratio.upper, ratio.values.count))
        }
    }
}
