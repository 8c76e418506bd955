"""The warehouse SQL models (raw -> staged -> metrics, rollups), shipped as package data."""
