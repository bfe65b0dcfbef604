import Foundation

/// The reference model all-MiniLM-L6-v2 in the cache `scripts/fetch-minilm --cache-only` fills, and the reference
/// embeddings: what every test target that runs the real model needs to find them.
public enum MiniLMCache {
    /// `$CONFIDE_MINILM_CACHE`, else `${XDG_CACHE_HOME:-$HOME/.cache}/confide/all-MiniLM-L6-v2`, as the script.
    public static let folder: String = {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["CONFIDE_MINILM_CACHE"], !folder.isEmpty { return folder }
        let cache =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return (cache as NSString).appendingPathComponent("confide/all-MiniLM-L6-v2")
    }()

    /// The Hugging Face files the script links into a model-store entry.
    public static let files = [
        "config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "sentence_bert_config.json", "modules.json",
        "1_Pooling/config.json",
    ]

    /// Whether the files the tests load are in the cache.
    public static var isPresent: Bool {
        ["config.json", "model.safetensors", "tokenizer.json"].allSatisfy {
            FileManager.default.fileExists(atPath: path($0))
        }
    }

    /// Tests of the real model run when it is cached, and always under CI, where its absence fails them.
    public static var testsEnabled: Bool { isPresent || ProcessInfo.processInfo.environment["CI"] != nil }

    /// Why they are skipped otherwise.
    public static let absentReason = "all-MiniLM-L6-v2 is not in the cache: run scripts/fetch-minilm --cache-only"

    /// The path of one of the cached files.
    public static func path(_ file: String) -> String { (folder as NSString).appendingPathComponent(file) }

    /// The package root, found from this file's path (Tests/Support/MiniLMCache/).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// `../shared/testdata/reference/minilm-public.jsonl`: 198 texts with Hugging Face's token ids and embeddings.
    public static let referencePath = (packageRoot as NSString).appendingPathComponent(
        "../shared/testdata/reference/minilm-public.jsonl")
}
