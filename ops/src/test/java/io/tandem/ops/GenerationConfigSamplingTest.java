package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.hf.HfConfig;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model's {@code generation_config.json} sampling defaults, which vLLM applies by default ({@code --generation-config
 * auto}) and Tandem does not, are named at start where they differ from what requests get (tester59a: make-checkpoint's
 * temperature 0.7, top_k 20, top_p 0.8 and repetition_penalty 1.05 were dropped and nothing said so).
 */
class GenerationConfigSamplingTest {

  @TempDir Path dir;

  private Path model(String generationConfig) throws Exception {
    Files.writeString(dir.resolve("generation_config.json"), generationConfig);
    return dir;
  }

  @Test
  void theFieldsVllmAppliesAreRead() throws Exception {
    Path m = model("{\"eos_token_id\": [2], \"do_sample\": true, \"temperature\": 0.7, \"top_k\": 20, \"top_p\": 0.8,"
        + " \"repetition_penalty\": 1.05, \"max_new_tokens\": 100, \"min_p\": \"x\"}");
    assertEquals(Map.of("temperature", 0.7, "top_k", 20.0, "top_p", 0.8, "repetition_penalty", 1.05, "max_new_tokens", 100.0),
        HfConfig.recommendedSampling(m));
    assertEquals(Map.of(), HfConfig.recommendedSampling(dir.resolve("no-such-folder")));
  }

  @Test
  void whatDiffersFromTheDefaultsIsNamedWithTheFlagsThatSetThem() throws Exception {
    Path m = model("{\"temperature\": 0.7, \"top_k\": 20, \"top_p\": 0.8, \"repetition_penalty\": 1.05}");
    assertEquals("tandem serve: the small model's generation_config.json (" + m + ") recommends temperature 0.7, top_k 20, top_p"
        + " 0.8, repetition_penalty 1.05; requests that leave these out get temperature 0.6, top_k 50, top_p 0.95 (--temperature,"
        + " --top-k, --top-p): both models of a pair sample alike, and a model's own defaults are not applied as vLLM's"
        + " --generation-config auto applies them; repetition_penalty is not applied at all (Tandem has neither min_p nor penalties)",
        ServeCommand.samplingNotApplied(Role.small, m.toString(), SamplingParams.PAPER).orElseThrow());
    // Only what differs is named; the penalty sentence only where one is recommended.
    String some = ServeCommand.samplingNotApplied(Role.large, m.toString(), new SamplingParams(0.7, 20, 1.0, null)).orElseThrow();
    assertTrue(some.startsWith("tandem serve: the large model's generation_config.json (" + m + ") recommends top_p 0.8,"
        + " repetition_penalty 1.05; requests that leave these out get temperature 0.7, top_k 20, top_p 1 "), some);
  }

  /** A max_new_tokens, vLLM's default max_tokens, is said to be none here (tester59f). */
  @Test
  void aMaxNewTokensIsSaidToBeNoDefaultHere() throws Exception {
    Path m = model("{\"temperature\": 0.6, \"top_k\": 50, \"top_p\": 0.95, \"max_new_tokens\": 64}");
    assertEquals("tandem serve: the small model's generation_config.json (" + m + ") has max_new_tokens 64, which vLLM takes as"
        + " the default max_tokens, is no default here: a chat request that leaves max_tokens out gets"
        + " tandem.http.default-max-tokens (by default what the context leaves), a completion 16 tokens", ServeCommand.samplingNotApplied(Role.small, m.toString(), SamplingParams.PAPER).orElseThrow());
    String both = ServeCommand.samplingNotApplied(Role.small, model("{\"temperature\": 0.7, \"max_new_tokens\": 64}").toString(),
        SamplingParams.PAPER).orElseThrow();
    assertTrue(both.contains("recommends temperature 0.7; ") && both.endsWith("--generation-config auto applies them; its"
        + " max_new_tokens 64, which vLLM takes as the default max_tokens, is no default here: a chat request that leaves"
        + " max_tokens out gets tandem.http.default-max-tokens (by default what the context leaves), a completion 16 tokens"), both);
  }

  @Test
  void nothingIsSaidWhereTheModelRecommendsWhatRequestsGet() throws Exception {
    // The demo pair's files recommend the paper's settings, the server's defaults.
    Path m = model("{\"do_sample\": true, \"temperature\": 0.6, \"top_k\": 50, \"top_p\": 0.95, \"repetition_penalty\": 1.0,"
        + " \"min_p\": 0}");
    assertTrue(ServeCommand.samplingNotApplied(Role.small, m.toString(), SamplingParams.PAPER).isEmpty());
    String both = ServeCommand.samplingNotApplied(Role.small, model("{\"min_p\": 0.05, \"repetition_penalty\": 1.1}").toString(),
        SamplingParams.PAPER).orElseThrow();
    assertTrue(both.endsWith("recommends min_p 0.05, repetition_penalty 1.1; requests that leave these out get temperature 0.6,"
        + " top_k 50, top_p 0.95 (--temperature, --top-k, --top-p): both models of a pair sample alike, and a model's own"
        + " defaults are not applied as vLLM's --generation-config auto applies them; min_p and repetition_penalty are not"
        + " applied at all (Tandem has neither min_p nor penalties)"), both);
    assertTrue(ServeCommand.samplingNotApplied(Role.small, model("{\"top_k\": 0}").toString(), new SamplingParams(0.6, -1, 0.95,
        null)).isEmpty());
    // A remote engine or a scripted model is no folder.
    assertTrue(ServeCommand.samplingNotApplied(Role.large, "openai:http://127.0.0.1:8001/v1?model=m", SamplingParams.PAPER).isEmpty());
  }
}
