package io.tandem.ops;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.LoadedConfig;
import io.tandem.protocol.config.PaperConfigLoader;
import io.tandem.protocol.config.SpeculativeConfig;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that run the two models: which models, which config, sampling. */
public final class ModelOptions {
  @Option(names = "--small", description = "Small model: checkpoint folder, scripted:PATH, simulated:PATH?latency=PROFILE, or a remote engine "
      + "openai:http://HOST:PORT/v1?model=NAME&tokenizer=DIR[&max-concurrency=N][&max-model-len=N].")
  String small;

  @Option(names = "--large", description = "Large model, as --small.")
  String large;

  @Option(names = "--config", description = "Speculative config: the paper's YAML (e.g. 1b_32b.yml). Default: tandem.speculative.")
  Path config;

  @Option(names = "--device", defaultValue = "cpu", description = "Device for both models (cpu, gpu0, ...). Default: ${DEFAULT-VALUE}.")
  String device;

  @Option(names = "--temperature", defaultValue = "0.6", description = "Sampling temperature; 0 is greedy. Default: ${DEFAULT-VALUE} (the paper's).")
  double temperature;

  @Option(names = "--top-k", defaultValue = "50", description = "Top-k (0: off). Default: ${DEFAULT-VALUE}.")
  int topK;

  @Option(names = "--top-p", defaultValue = "0.95", description = "Top-p. Default: ${DEFAULT-VALUE}.")
  double topP;

  @Option(names = "--seed", description = "Seed for a reproducible run.")
  Long seed;

  SamplingParams sampling() {
    return new SamplingParams(temperature, topK, topP, seed);
  }

  /** The speculative config, printing what the loader had to say about the file. */
  SpeculativeConfig speculative(Config base) {
    if (config == null) return SpeculativeConfig.fromHocon(base);
    LoadedConfig loaded = PaperConfigLoader.loadYaml(config);
    for (String w : loaded.warnings()) System.err.println("tandem: " + w);
    return loaded.config();
  }

  /** The node configuration with this command's models and device. */
  Config nodeConfig(Config base) {
    Config c = base;
    if (small != null) c = c.withValue("tandem.small.model", ConfigValueFactory.fromAnyRef(small));
    if (large != null) c = c.withValue("tandem.large.model", ConfigValueFactory.fromAnyRef(large));
    c = c.withValue("tandem.small.devices", ConfigValueFactory.fromIterable(java.util.List.of(device)));
    c = c.withValue("tandem.large.devices", ConfigValueFactory.fromIterable(java.util.List.of(device)));
    return c;
  }

  static Config baseConfig() {
    return ConfigFactory.load();
  }
}
