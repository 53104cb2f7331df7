package io.tandem.protocol.config;

import java.util.List;

/** A loaded config and what the loader has to say about its source (keys accepted but unused). */
public record LoadedConfig(SpeculativeConfig config, List<String> warnings) {
  public LoadedConfig {
    warnings = List.copyOf(warnings);
  }
}
