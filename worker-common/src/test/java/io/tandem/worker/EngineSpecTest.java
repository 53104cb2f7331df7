package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code openai:} model spec: what it accepts and what each mistake is told. */
class EngineSpecTest {

  static Path tokenizerDir(Path dir) throws Exception {
    Files.writeString(dir.resolve("tokenizer.json"), "{}");
    return dir;
  }

  @Test
  void aFullSpecNamesTheEndpointTheModelTheTokenizerAndTheLimits(@TempDir Path dir) throws Exception {
    tokenizerDir(dir);
    EngineSpec s = EngineSpec.parse("openai:http://10.0.0.7:8000/v1/?model=deepseek-ai/DeepSeek-R1-Distill-Qwen-32B&tokenizer="
        + dir + "&max-concurrency=64&max-model-len=32768");
    assertEquals("http://10.0.0.7:8000/v1", s.baseUrl().toString());
    assertEquals("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", s.model());
    assertEquals(dir, s.tokenizer());
    assertEquals(64, s.maxConcurrency());
    assertEquals(32768, s.maxModelLen());
    assertEquals("10.0.0.7:8000", s.endpoint());
    assertTrue(EngineSpec.isEngine("openai:http://x"));
    assertFalse(EngineSpec.isEngine("ops/demo/small"));
  }

  @Test
  void withoutATokenizerFolderTheEnginesTokenizerIsUsedAtItsServerRoot() {
    EngineSpec s = EngineSpec.parse("openai:http://10.0.0.7:8000/v1?model=r1-32b");
    assertFalse(s.localTokenizer());
    assertEquals("http://10.0.0.7:8000", s.serverRoot().toString(), "where vLLM serves /tokenize and /detokenize");
    assertEquals(0, s.maxModelLen(), "read from the engine's /v1/models");
  }

  @Test
  void eachMistakeIsNamed(@TempDir Path dir) throws Exception {
    tokenizerDir(dir);
    String ok = "&tokenizer=" + dir;
    assertMessage("must start with http", "openai:ftp://h:1/v1?model=m" + ok);
    assertMessage("port 99999 is beyond 65535", "openai:http://h:99999/v1?model=m" + ok);
    assertMessage("no model=NAME", "openai:http://h:1/v1?tokenizer=" + dir);
    assertMessage("or leave tokenizer= out", "openai:http://h:1/v1?model=m&tokenizer=" + dir.resolve("missing"));
    assertMessage("tokenizer=" + dir.resolve("missing") + ": no such folder", "openai:http://h:1/v1?model=m&tokenizer="
        + dir.resolve("missing"));
    java.nio.file.Files.createDirectories(dir.resolve("empty"));
    assertMessage("no tokenizer.json in", "openai:http://h:1/v1?model=m&tokenizer=" + dir.resolve("empty"));
    assertMessage("tokenizer= names no folder", "openai:http://h:1/v1?model=m&tokenizer=");
    // A parameter given twice was the last one kept, without a word (tester45b).
    assertMessage("model= is given twice; give it once", "openai:http://h:1/v1?model=a&model=b" + ok);
    assertMessage("max-concurrency must be a positive integer, got '0'", "openai:http://h:1/v1?model=m&max-concurrency=0" + ok);
    assertMessage("max-model-len must be a positive integer, got 'lots'", "openai:http://h:1/v1?model=m&max-model-len=lots" + ok);
    assertMessage("unknown parameter 'temperature'", "openai:http://h:1/v1?model=m&temperature=0" + ok);
    assertMessage("is not KEY=VALUE", "openai:http://h:1/v1?model" + ok);
  }

  /** A '+' in a value is a '+', as in a URI's query (tester45b: model=a+b was 'a b'); %XX is decoded. */
  @Test
  void aPlusInAValueIsAPlus() {
    assertEquals("a+b c/d", EngineSpec.parse("openai:http://h:1/v1?model=a+b%20c%2Fd").model());
  }

  @Test
  void anApiKeyIsReadFromTheVariableTheSpecNamesAndNeverPrinted() {
    EngineSpec s = EngineSpec.parse("openai:http://10.0.0.7:8000/v1?model=r1-32b&api-key-env=GPU_B_KEY",
        Map.of("GPU_B_KEY", "sk-secret-123")::get);
    assertEquals("GPU_B_KEY", s.apiKeyEnv());
    assertEquals("sk-secret-123", s.apiKey());
    assertTrue(s.toString().contains("apiKeyEnv=GPU_B_KEY") && !s.toString().contains("sk-secret-123"), s.toString());
    EngineSpec open = EngineSpec.parse("openai:http://10.0.0.7:8000/v1?model=r1-32b", Map.<String, String>of()::get);
    assertNull(open.apiKey(), "no api-key-env: no key is sent");
  }

  @Test
  void anApiKeyVariableThatIsUnsetOrEmptyIsNamedWithWhatToExport() {
    String spec = "openai:http://h:1/v1?model=m&api-key-env=GPU_B_KEY";
    IllegalArgumentException unset = assertThrows(IllegalArgumentException.class, () -> EngineSpec.parse(spec, Map.<String, String>of()::get));
    assertEquals("engine '" + spec + "': the environment variable GPU_B_KEY (api-key-env) is not set; export GPU_B_KEY=KEY, "
        + "the engine's API key, before starting, or leave api-key-env out for an engine without keys", unset.getMessage());
    IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> EngineSpec.parse(spec, Map.of("GPU_B_KEY", " ")::get));
    assertTrue(empty.getMessage().contains("GPU_B_KEY (api-key-env) is empty"), empty.getMessage());
    assertMessage("api-key-env names no variable", "openai:http://h:1/v1?model=m&api-key-env=");
  }

  static void assertMessage(String part, String spec) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EngineSpec.parse(spec));
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }
}
