"""Landing -> bronze -> silver (+ quarantine, run log) for any set of deliveries."""
