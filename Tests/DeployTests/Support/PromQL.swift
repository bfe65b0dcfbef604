/// The names a PromQL expression uses: the metrics it selects, the labels it matches or groups by, and the
/// functions it calls. A lexer, not a parser: enough to check names against what a server exports.
struct PromQLNames {
    private(set) var metrics: Set<String> = []
    private(set) var labels: Set<String> = []
    private(set) var functions: Set<String> = []

    /// Functions and aggregation operators (https://prometheus.io/docs/prometheus/latest/querying/).
    static let knownFunctions: Set<String> = [
        "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp",
        "clamp_max", "clamp_min", "count", "count_over_time", "count_values", "day_of_month", "day_of_week",
        "delta", "deriv", "exp", "floor", "group", "histogram_avg", "histogram_count", "histogram_fraction",
        "histogram_quantile", "histogram_sum", "idelta", "increase", "irate", "label_join", "label_replace", "ln",
        "log2", "log10", "max", "max_over_time", "min", "min_over_time", "quantile", "quantile_over_time", "rate",
        "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev", "stddev_over_time", "stdvar",
        "sum", "sum_over_time", "time", "timestamp", "topk", "vector",
    ]
    static let groupingKeywords: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right"]
    static let keywords: Set<String> = ["and", "or", "unless", "bool", "offset", "inf", "nan"]

    /// Reads an expression; Grafana's variables (`$model`, `${datasource}`, `$__rate_interval`) are dropped.
    init(_ expression: String) throws {
        let text = Array(expression.replacing(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/, with: ""))
        var index = 0
        func skipSpaces() {
            while index < text.count, text[index].isWhitespace { index += 1 }
        }
        func identifier() -> String? {
            guard index < text.count, text[index].isLetter || text[index] == "_" || text[index] == ":" else {
                return nil
            }
            let start = index
            while index < text.count,
                text[index].isLetter || text[index].isNumber || text[index] == "_" || text[index] == ":"
            {
                index += 1
            }
            return String(text[start..<index])
        }
        func skipString() throws {
            let quote = text[index]
            index += 1
            while index < text.count, text[index] != quote {
                index += text[index] == "\\" ? 2 : 1
            }
            guard index < text.count else { throw DeployFileError("unterminated string in \(expression)") }
            index += 1
        }
        /// `(label, label)` after a grouping keyword, or `{label="value", ...}` after a metric.
        func labelList(closing: Character) throws {
            index += 1
            while true {
                skipSpaces()
                guard index < text.count else { throw DeployFileError("unterminated label list in \(expression)") }
                if text[index] == closing {
                    index += 1
                    return
                }
                if text[index] == "," {
                    index += 1
                } else if text[index] == "\"" || text[index] == "'" {
                    try skipString()
                } else if let name = identifier() {
                    labels.insert(name)
                } else if "=!~".contains(text[index]) {
                    index += 1
                } else {
                    throw DeployFileError("unexpected '\(text[index])' in a label list of \(expression)")
                }
            }
        }
        while index < text.count {
            let character = text[index]
            if character == "\"" || character == "'" {
                try skipString()
            } else if character == "[" {
                while index < text.count, text[index] != "]" { index += 1 }
                index += 1
            } else if character == "{" {
                try labelList(closing: "}")
            } else if character.isNumber || character == "." {
                while index < text.count, text[index].isNumber || text[index] == "." || text[index].isLetter {
                    index += 1
                }
            } else if let name = identifier() {
                skipSpaces()
                let next = index < text.count ? text[index] : " "
                if Self.groupingKeywords.contains(name) {
                    if next == "(" { try labelList(closing: ")") }
                } else if Self.keywords.contains(name) {
                    continue
                } else if next == "(" || Self.knownFunctions.contains(name) {
                    functions.insert(name)
                } else {
                    metrics.insert(name)
                }
            } else {
                index += 1
            }
        }
    }
}
