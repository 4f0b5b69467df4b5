package config

// StructKeys exposes structKeys to the external tests.
var StructKeys = structKeys
