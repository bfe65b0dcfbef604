extension TDXQuote {
    /// Parses a TDX quote of version 4 or 5.
    ///
    /// Bytes after the signature data are ignored: they are not signed and some producers pad quotes.
    /// - Throws: ``AttestationError`` when the quote is truncated, oversized, malformed or of an unsupported kind.
    public init(bytes: [UInt8]) throws(AttestationError) {
        guard bytes.count <= Self.maximumSize else {
            throw AttestationError(.oversized, "TDX quote is \(bytes.count) bytes, at most \(Self.maximumSize)")
        }
        var reader = ByteReader(bytes, what: "TDX quote")
        let header = try TDXQuoteHeader(reader: &reader)
        let kind: TDXReportBody.Kind
        switch header.version {
        case 4:
            kind = .tdx10
        case 5:
            let type = try reader.readUInt16("body type")
            let size = try reader.readUInt32("body size")
            guard let bodyKind = TDXReportBody.Kind(rawValue: type) else {
                throw AttestationError(.unsupportedFormat, "TDX quote body type \(type) is not a TD report")
            }
            guard size == bodyKind.size else {
                throw AttestationError(
                    .malformed,
                    "TDX quote body type \(type) has size \(size), expected \(bodyKind.size)"
                )
            }
            kind = bodyKind
        default:
            throw AttestationError(.unsupportedFormat, "TDX quote version \(header.version) is not 4 or 5")
        }
        self.header = header
        self.bodyKind = kind
        self.body = try TDXReportBody(reader: &reader, kind: kind)
        self.signedBytes = Array(bytes[0..<reader.offset])
        let signatureLength = try reader.readUInt32("signature data length")
        var signatureReader = ByteReader(
            try reader.read(Int(signatureLength), "signature data"),
            what: "TDX signature data"
        )
        self.signatureData = try TDXQuoteSignatureData(reader: &signatureReader)
    }
}

extension TDXQuoteHeader {
    init(reader: inout ByteReader) throws(AttestationError) {
        self.version = try reader.readUInt16("version")
        self.attestationKeyType = try reader.readUInt16("attestation key type")
        self.teeType = try reader.readUInt32("TEE type")
        self.qeSVN = try reader.readUInt16("QE SVN")
        self.pceSVN = try reader.readUInt16("PCE SVN")
        self.qeVendorID = try reader.read(16, "QE vendor ID")
        self.userData = try reader.read(20, "user data")
        guard self.attestationKeyType == Self.ecdsaP256KeyType else {
            throw AttestationError(
                .unsupportedFormat,
                "attestation key type \(self.attestationKeyType) is not ECDSA P-256"
            )
        }
        guard self.teeType == Self.tdxTEEType else {
            throw AttestationError(.unsupportedFormat, "TEE type 0x\(String(self.teeType, radix: 16)) is not TDX")
        }
    }
}

extension TDXReportBody {
    init(reader: inout ByteReader, kind: Kind) throws(AttestationError) {
        self.teeTCBSVN = try reader.read(16, "TEE_TCB_SVN")
        self.mrSeam = try reader.read(48, "MRSEAM")
        self.mrSignerSeam = try reader.read(48, "MRSIGNERSEAM")
        self.seamAttributes = try reader.read(8, "SEAMATTRIBUTES")
        self.tdAttributes = try reader.read(8, "TDATTRIBUTES")
        self.xfam = try reader.read(8, "XFAM")
        self.mrTD = try reader.read(48, "MRTD")
        self.mrConfigID = try reader.read(48, "MRCONFIGID")
        self.mrOwner = try reader.read(48, "MROWNER")
        self.mrOwnerConfig = try reader.read(48, "MROWNERCONFIG")
        var rtmrs: [[UInt8]] = []
        for index in 0..<4 {
            rtmrs.append(try reader.read(48, "RTMR\(index)"))
        }
        self.rtmrs = rtmrs
        self.reportData = try reader.read(64, "REPORTDATA")
        switch kind {
        case .tdx10:
            self.teeTCBSVN2 = nil
            self.mrServiceTD = nil
        case .tdx15:
            self.teeTCBSVN2 = try reader.read(16, "TEE_TCB_SVN2")
            self.mrServiceTD = try reader.read(48, "MRSERVICETD")
        }
    }
}

extension TDXQuoteSignatureData {
    init(reader: inout ByteReader) throws(AttestationError) {
        self.signature = try reader.read(64, "quote signature")
        self.attestationKey = try reader.read(64, "attestation key")
        let type = try reader.readUInt16("certification data type")
        let size = try reader.readUInt32("certification data size")
        guard type == Self.qeReportCertificationDataType else {
            throw AttestationError(.unsupportedFormat, "certification data type \(type) is not 6 (QE report)")
        }
        var certification = ByteReader(try reader.read(Int(size), "certification data"), what: "QE certification data")
        guard reader.remaining == 0 else {
            throw AttestationError(.malformed, "\(reader.remaining) bytes follow the certification data")
        }
        self.qeReport = try SGXReportBody(reader: &certification)
        self.qeReportSignature = try certification.read(64, "QE report signature")
        let authenticationSize = try certification.readUInt16("QE authentication data size")
        self.qeAuthenticationData = try certification.read(Int(authenticationSize), "QE authentication data")
        let innerType = try certification.readUInt16("inner certification data type")
        let innerSize = try certification.readUInt32("inner certification data size")
        guard innerType == Self.pckCertificateChainType else {
            throw AttestationError(
                .unsupportedFormat,
                "inner certification data type \(innerType) is not 5 (PCK chain)"
            )
        }
        self.pckCertificateChain = try certification.read(Int(innerSize), "PCK certificate chain")
        guard certification.remaining == 0 else {
            throw AttestationError(.malformed, "\(certification.remaining) bytes follow the PCK certificate chain")
        }
    }
}

extension SGXReportBody {
    init(reader: inout ByteReader) throws(AttestationError) {
        let raw = try reader.read(Self.size, "QE report")
        var fields = ByteReader(raw, what: "QE report")
        self.raw = raw
        self.cpuSVN = try fields.read(16, "CPUSVN")
        self.miscSelect = try fields.readUInt32("MISCSELECT")
        try fields.skip(28, "reserved")
        self.attributes = try fields.read(16, "ATTRIBUTES")
        self.mrEnclave = try fields.read(32, "MRENCLAVE")
        try fields.skip(32, "reserved")
        self.mrSigner = try fields.read(32, "MRSIGNER")
        try fields.skip(96, "reserved")
        self.isvProdID = try fields.readUInt16("ISVPRODID")
        self.isvSVN = try fields.readUInt16("ISVSVN")
        try fields.skip(60, "reserved")
        self.reportData = try fields.read(64, "REPORTDATA")
    }
}
