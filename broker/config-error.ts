// A setting that is unknown or has a bad value. Its own module so that modules defining settings
// (broker/security/*) can throw it without importing config.ts, which imports their definitions.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
