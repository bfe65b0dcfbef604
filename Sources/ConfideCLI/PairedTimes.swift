/// The times of a body run on two sides (A = 0, B = 1), one call each per pair, A first in every other pair (so
/// neither side always runs first).
struct PairedTimes {
    /// Side A's call times in seconds, sorted, and their quartiles.
    let a: Quartiles
    /// Side B's.
    let b: Quartiles
    /// A's speed over B's per pair (B's time over A's), sorted, and their quartiles.
    let ratios: Quartiles

    /// Pairs `aTimes[i]`, `bTimes[i]`.
    init(aTimes: [Double], bTimes: [Double]) {
        a = Quartiles(aTimes)
        b = Quartiles(bTimes)
        ratios = Quartiles(zip(aTimes, bTimes).map { $1 / $0 })
    }

    /// Runs `body(side)` for both sides in turn, after one unmeasured call each, until each side has run for about
    /// `seconds` and at least nine pairs are measured.
    static func measure(seconds: Double, _ body: (Int) throws -> Void) throws -> PairedTimes {
        try body(0)
        try body(1)
        var times: [[Double]] = [[], []]
        var spent = 0.0
        while spent < 2 * seconds || times[0].count < 9 {
            let first = times[0].count % 2
            for side in [first, 1 - first] {
                let begin = BenchKernels.now()
                try body(side)
                let elapsed = BenchKernels.now() - begin
                times[side].append(elapsed)
                spent += elapsed
            }
        }
        return PairedTimes(aTimes: times[0], bTimes: times[1])
    }
}

/// The order statistics of a sample: its values sorted, their median, quartiles and extremes (0 when empty).
struct Quartiles {
    /// The values, ascending.
    let values: [Double]

    init(_ values: [Double]) { self.values = values.sorted() }

    /// The value at fraction `p` of the sorted sample, interpolating between neighbours.
    func quantile(_ p: Double) -> Double {
        guard let last = values.indices.last else { return 0 }
        let position = p * Double(last)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, last)
        return values[below] + (values[above] - values[below]) * (position - Double(below))
    }

    var median: Double { quantile(0.5) }
    var lower: Double { quantile(0.25) }
    var upper: Double { quantile(0.75) }
    var minimum: Double { values.first ?? 0 }
    var maximum: Double { values.last ?? 0 }
}
