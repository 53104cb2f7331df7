package io.tandem.protocol.config;

import java.util.List;

/** A loaded config and what the loader has to say about its source (keys accepted but unused). */
public record LoadedConfig(SpeculativeConfig config, List<String> warnings) {
  /** @param warnings one line each, naming the source and the key */
  public LoadedConfig {
    warnings = List.copyOf(warnings);
  }
}
