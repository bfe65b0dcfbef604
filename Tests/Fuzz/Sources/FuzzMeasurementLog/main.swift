import ConfideMeasurement
import FuzzDriver

runFuzzer(MeasurementFuzz.servedLog)
