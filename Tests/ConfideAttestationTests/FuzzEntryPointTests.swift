import ConfideAttestation
import Foundation
import Testing

/// Runs each fuzz entry point over random and mutated inputs; the test passes if nothing traps.
struct FuzzEntryPointTests {
    /// A small deterministic generator (SplitMix64) so failures reproduce.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Returns `seed` with a few random bytes changed, inserted, removed, or the tail cut.
    static func mutate(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !bytes.isEmpty else {
                bytes.append(UInt8.random(in: 0...255, using: &rng))
                continue
            }
            let index = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: bytes[index] = UInt8.random(in: 0...255, using: &rng)
            case 1: bytes[index] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
            case 3: bytes.remove(at: index)
            default: bytes.removeLast(bytes.count - index)
            }
        }
        return bytes
    }

    static func random(_ rng: inout SplitMix64, maximumCount: Int) -> [UInt8] {
        (0..<Int.random(in: 0...maximumCount, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func seeds(_ files: [String]) throws -> [[UInt8]] {
        guard Fixtures.available else {
            return []
        }
        return try files.map { try Fixtures.bytes($0) }
    }

    @Test func tdxQuoteEntryPoint() throws {
        var rng = SplitMix64(state: 1)
        let seeds = try Self.seeds(Fixtures.tdxQuotes)
        for round in 0..<3000 {
            if let seed = seeds.randomElement(using: &rng), round % 4 != 0 {
                AttestationFuzz.tdxQuote(Self.mutate(seed, &rng))
            } else {
                var bytes = Self.random(&rng, maximumCount: 800)
                bytes.replaceSubrange(0..<min(8, bytes.count), with: [4, 0, 2, 0, 0x81, 0, 0, 0].prefix(bytes.count))
                AttestationFuzz.tdxQuote(bytes)
            }
        }
    }

    @Test func tdxCollateralEntryPoint() throws {
        var rng = SplitMix64(state: 4)
        let seeds = try Self.seeds(["tdx-quote-v4-b.collateral.json", "tdx-quote-v4-outdated.collateral.json"])
        for round in 0..<300 {
            if let seed = seeds.randomElement(using: &rng), round % 4 != 0 {
                AttestationFuzz.tdxCollateral(Self.mutate(seed, &rng))
            } else {
                AttestationFuzz.tdxCollateral(Self.random(&rng, maximumCount: 400))
            }
        }
    }

    @Test func snpReportEntryPoint() throws {
        var rng = SplitMix64(state: 2)
        let seed =
            Fixtures.available ? try Fixtures.hexFile("snp-report-milan.hex") : [UInt8](repeating: 0, count: 1184)
        for round in 0..<3000 {
            AttestationFuzz.snpReport(round % 4 == 0 ? Self.random(&rng, maximumCount: 1300) : Self.mutate(seed, &rng))
        }
    }

    @Test func snpCertificatesEntryPoint() throws {
        var rng = SplitMix64(state: 4)
        var seeds = try Self.seeds(["snp-vcek-milan.der", "amd-ask-ark-milan.pem"])
        if let vcek = seeds.first {
            let length = [UInt8(vcek.count & 0xFF), UInt8(vcek.count >> 8), 0, 0]
            let header = [UInt8](repeating: 0x63, count: 16) + [48, 0, 0, 0] + length
            seeds.append(header + [UInt8](repeating: 0, count: 24) + vcek)
        }
        for round in 0..<1500 {
            if let seed = seeds.randomElement(using: &rng), round % 4 != 0 {
                AttestationFuzz.snpCertificates(Self.mutate(seed, &rng))
            } else {
                AttestationFuzz.snpCertificates(Self.random(&rng, maximumCount: 400))
            }
        }
    }

    @Test func evidenceInputEntryPoint() throws {
        var rng = SplitMix64(state: 5)
        let report =
            Fixtures.available ? try Fixtures.hexFile("snp-report-milan.hex") : [UInt8](repeating: 2, count: 1184)
        let hexText = Array(report.map { String(format: "%02x", $0) }.joined().utf8)
        let json = Array(
            #"{"attestation_report": [2, 0, 0, 0], "cert_chain": [{"cert_type": "VCEK", "data": [48]}]}"#.utf8)
        let seeds = [report, hexText, json, Array(#"{"quote": "BAACAIEAAAA="}"#.utf8)]
        for round in 0..<1500 {
            if let seed = seeds.randomElement(using: &rng), round % 4 != 0 {
                AttestationFuzz.evidenceInput(Self.mutate(seed, &rng))
            } else {
                AttestationFuzz.evidenceInput(Self.random(&rng, maximumCount: 400))
            }
        }
    }

    @Test func simulatedEvidenceEntryPoint() async throws {
        var rng = SplitMix64(state: 3)
        let provider = try SimulatedEvidenceProvider()
        let seed = try await provider.evidence(reportData: [UInt8](repeating: 5, count: 64)).bytes
        for round in 0..<3000 {
            AttestationFuzz.simulatedEvidence(
                round % 4 == 0 ? Self.random(&rng, maximumCount: 300) : Self.mutate(seed, &rng)
            )
        }
    }
}
