import Foundation
import Testing

/// `kubectl kustomize` (Kustomize built into kubectl), when this machine has it.
enum Kubectl {
    static let path: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
        .split(separator: ":").map { "\($0)/kubectl" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `kubectl kustomize FOLDER` on a thread of its own (never block the concurrency pool's threads,
    /// which the servers of other tests need).
    static func kustomize(_ folder: String) async throws -> String {
        let kubectl = try #require(path)
        let result: Result<String, DeployFileError> = await withCheckedContinuation { continuation in
            Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: kubectl)
                process.arguments = ["kustomize", Repository.path(folder)]
                let output = Pipe()
                let errors = Pipe()
                process.standardOutput = output
                process.standardError = errors
                do {
                    try process.run()
                } catch {
                    return continuation.resume(returning: .failure(DeployFileError("cannot run \(kubectl): \(error)")))
                }
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                continuation.resume(
                    returning: process.terminationStatus == 0
                        ? .success(text) : .failure(DeployFileError("kubectl kustomize \(folder): \(message)")))
            }.start()
        }
        return try result.get()
    }
}

/// The tests render the kustomizations themselves, so that they run where Kustomize is not installed; where it
/// is, the real rendering must agree with theirs.
@Suite("The tests' rendering agrees with Kustomize's")
struct KustomizeCrossCheckTests {
    @Test(.enabled(if: Kubectl.path != nil, "kubectl is not installed"), arguments: ConfideDeployment.kustomizations)
    func renderingMatchesKubectlKustomize(folder: String) async throws {
        let ours = try Rendering(folder)
        let theirs = try YAMLValue.documents(try await Kubectl.kustomize(folder), file: "kubectl kustomize \(folder)")
            .filter { $0 != .null }
        let names = { (kind: String?, name: String?) in "\(kind ?? "?")/\(name ?? "?")" }
        #expect(
            Set(theirs.map { names($0["kind"]?.string, $0.at("metadata", "name")?.string) })
                == Set(ours.objects.map { names($0.kind, $0.name) }))
        for object in ours.objects where object.kind != "Secret" {
            let match = theirs.first {
                $0["kind"]?.string == object.kind && $0.at("metadata", "name")?.string == object.name
            }
            #expect(
                match == object.value, "\(folder): \(object.kind)/\(object.name) differs from what Kustomize renders")
        }
    }
}
