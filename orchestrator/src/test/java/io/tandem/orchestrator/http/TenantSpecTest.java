package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An API keys file ({@code serve --api-keys FILE}, {@code tandem.http.api-keys-file}) as its author reads its errors. */
class TenantSpecTest {
  @TempDir
  Path dir;

  private Path keys(String text) throws Exception {
    return Files.writeString(dir.resolve("keys.json"), text);
  }

  private String refusal(String text) throws Exception {
    Path file = keys(text);
    return assertThrows(IllegalArgumentException.class, () -> TenantSpec.fromFile(file)).getMessage();
  }

  @Test
  void aFileOfKeysReadsAsJsonOrAsTheListItself() throws Exception {
    List<TenantSpec> expected = List.of(new TenantSpec("sk-1", "team-a", 16, 200000), new TenantSpec("sk-2", "team-b", 0, 0));
    String list = "[{\"key\": \"sk-1\", \"tenant\": \"team-a\", \"max-concurrent\": 16, \"tokens-per-minute\": 200000},"
        + " {\"key\": \"sk-2\", \"tenant\": \"team-b\"}]";
    assertEquals(expected, TenantSpec.fromFile(keys("{\"api-keys\": " + list + "}")));
    assertEquals(expected, TenantSpec.fromFile(keys(list)));
  }

  @Test
  void aValueThatCannotBeUsedIsNamedByTheFileTheEntryAndTheField() throws Exception {
    Map<String, String> refusals = new LinkedHashMap<>();
    String entry = "{\"key\": \"sk-1\", \"tenant\": \"t\", \"max-concurrent\": ";
    refusals.put(entry + "\"lots\"}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got the string \"lots\"");
    refusals.put(entry + "1.5}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got 1.5");
    refusals.put(entry + "true}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got true");
    refusals.put(entry + "-1}", "api-keys[0].max-concurrent must be from 0 to 2147483647 (0: unlimited), got -1");
    refusals.put(entry + "3000000000}", "api-keys[0].max-concurrent must be from 0 to 2147483647 (0: unlimited), got 3000000000");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"t\", \"tokens-per-minute\": 99999999999999999999}",
        "api-keys[0].tokens-per-minute must be from 0 to 9223372036854775807 (0: unlimited), got 99999999999999999999");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"t\", \"tokens-per-minute\": [1]}",
        "api-keys[0].tokens-per-minute must be a whole number (0: unlimited), got a list");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"\"}", "api-keys[0].tenant is empty");
    refusals.put("{\"key\": {}, \"tenant\": \"t\"}", "api-keys[0].key must be a string, got an object");
    refusals.put("{\"key\": \"sk-1\"}", "api-keys[0]: 'tenant' is missing");
    refusals.put("5", "api-keys[0] must be an entry {\"key\": ..., \"tenant\": ..., \"max-concurrent\": ...,"
        + " \"tokens-per-minute\": ...}, got 5");
    for (var r : refusals.entrySet()) {
      Path file = dir.resolve("keys.json");
      assertEquals(file + ": " + r.getValue(), refusal("{\"api-keys\": [" + r.getKey() + "]}"), r.getKey());
    }
    Path file = dir.resolve("keys.json");
    assertEquals(file + ": api-keys must be a list of entries {\"key\": ..., \"tenant\": ..., \"max-concurrent\": ...,"
        + " \"tokens-per-minute\": ...}, got the string \"sk-1\"", refusal("{\"api-keys\": \"sk-1\"}"));
    assertEquals(file + ": [1].max-concurrent must be a whole number (0: unlimited), got the string \"lots\"",
        refusal("[{\"key\": \"a\", \"tenant\": \"t\"}, {\"key\": \"b\", \"tenant\": \"t\", \"max-concurrent\": \"lots\"}]"),
        "a file that is the list itself");
  }
}
