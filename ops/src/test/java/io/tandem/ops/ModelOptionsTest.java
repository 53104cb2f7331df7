package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import io.tandem.ops.demo.DemoModels;
import io.tandem.protocol.Role;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Which models and devices a command's roles get: {@code --device} replaces the configuration's
 * {@code tandem.ROLE.devices}, which otherwise stand (engine specs there each a worker, with no demo
 * model put in their place), and a user who sets nothing gets the demo pair on the CPU.
 */
class ModelOptionsTest {
  static final List<Role> BOTH = List.of(Role.small, Role.large);
  static final List<String> TWO_ENGINES = List.of("openai:http://127.0.0.1:8002/v1?model=demo-large",
      "openai:http://127.0.0.1:8003/v1?model=demo-large");

  /** The options as picocli fills them from {@code args}. */
  static ModelOptions options(String... args) {
    ModelOptions o = new ModelOptions();
    new CommandLine(o).parseArgs(args);
    return o;
  }

  /** The launcher's configuration with {@code hocon} over it, as a {@code -Dconfig.file} with {@code include "application"} gives. */
  static Config config(String hocon) {
    return ConfigFactory.parseString(hocon).withFallback(ModelOptions.baseConfig()).resolve();
  }

  static final String ENGINE_DEVICES = "tandem.large.devices = [\"" + String.join("\", \"", TWO_ENGINES) + "\"]";

  @Test
  void theConfigsEngineDevicesStandBesideAnEngineFlagOneWorkerPerEndpoint() {
    Config c = options("--large", TWO_ENGINES.get(0)).nodeConfig(config(ENGINE_DEVICES), BOTH);
    RoleSpec large = ModelOptions.roleSpecs(c, BOTH).get(Role.large);
    assertEquals(TWO_ENGINES, large.devices(), "both endpoints get a worker, not only the flag's");
    assertEquals(TWO_ENGINES.get(0), large.model());
  }

  @Test
  void engineDevicesWithoutAModelServeTheRoleInsteadOfTheDemoModel() {
    Config c = options().nodeConfig(config(ENGINE_DEVICES), BOTH);
    RoleSpec large = ModelOptions.roleSpecs(c, BOTH).get(Role.large);
    assertEquals(TWO_ENGINES, large.devices());
    assertEquals("", large.model(), "no demo model for a role its engines serve");
    assertEquals(DemoModels.dir().resolve("small").toString(), c.getString("tandem.small.model"),
        "the other role, set nowhere, still gets the demo model");
  }

  @Test
  void anExplicitDeviceFlagReplacesTheConfigsDevicesForBothRoles() {
    Config c = options("--device", "cpu").nodeConfig(config(ENGINE_DEVICES + "\ntandem.small.devices = [cpu, cpu]"), BOTH);
    assertEquals(List.of("cpu"), c.getStringList("tandem.small.devices"));
    assertEquals(List.of("cpu"), c.getStringList("tandem.large.devices"));
    assertEquals(DemoModels.dir().resolve("large").toString(), c.getString("tandem.large.model"),
        "with its engines replaced, the large role falls back to the demo model");
  }

  @Test
  void aUserWhoSetsNothingGetsTheDemoPairOnTheCpu() {
    Config c = options().nodeConfig(config(""), BOTH);
    for (Role r : BOTH) {
      assertEquals(List.of("cpu"), c.getStringList("tandem." + r + ".devices"));
      assertEquals(DemoModels.dir().resolve(r.name()).toString(), c.getString("tandem." + r + ".model"));
    }
  }

  @Test
  void aMistakeInTheConfigsDevicesIsNamedByItsKey() {
    IllegalArgumentException notADevice = assertThrows(IllegalArgumentException.class,
        () -> options().nodeConfig(config("tandem.small.devices = [gpu-a]"), BOTH));
    assertEquals("tandem.small.devices gpu-a: not a device; give cpu, or gpu0, gpu1, ... for a GPU, or an engine spec "
        + "openai:URL?model=NAME", notADevice.getMessage());
    IllegalArgumentException badEngine = assertThrows(IllegalArgumentException.class,
        () -> options().nodeConfig(config("tandem.large.devices = [\"openai:http://h:1/v1\"]"), BOTH));
    assertEquals("tandem.large.devices: engine 'openai:http://h:1/v1': no model=NAME (the name the engine's /v1/models lists)",
        badEngine.getMessage());
  }

  @Test
  void topKZeroAndMinusOneBothTurnTopKOffAsInVllm() {
    assertEquals(0, options("--top-k", "0").sampling().topK());
    assertEquals(0, options("--top-k", "-1").sampling().topK(), "vLLM's older 'off', taken as 0");
    assertEquals(50, options().sampling().topK(), "the paper's, by default");
    UsageError below = assertThrows(UsageError.class, () -> options("--top-k", "-2").sampling());
    assertEquals("--top-k: must be 0 or -1 (off), or at least 1, got -2", below.getMessage());
  }

  /**
   * Speculative settings given beside --config, whose YAML is the whole speculative config, are said not to be read
   * (tester59c: -Dtandem.speculative.max-target-tokens=1 beside --config was dropped without a word).
   */
  @Test
  void speculativeSettingsBesideAConfigFileAreSaidNotToBeRead() {
    ModelOptions o = options("--config", "1b_32b.yml");
    assertEquals(java.util.Optional.empty(), o.notReadBeside(config("")), "the defaults are no settings given");
    Config given = ConfigFactory.parseString("tandem.speculative.max-target-tokens = 1", ConfigParseOptions.defaults()
        .setOriginDescription("system properties")).withFallback(config("")).resolve();
    assertEquals("tandem.speculative.max-target-tokens (system properties) is not read: --config 1b_32b.yml is the whole"
        + " speculative config; give it there, under the paper's key names (max_target_tokens, ...)", o.notReadBeside(given).orElseThrow());
  }
}
