import ConfideMeasurement
import FuzzDriver

runFuzzer(MeasurementFuzz.policyFile)
