package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
  void aMemberGivenTwiceInAJsonFileIsRefusedWhereHoconWouldKeepTheLast() throws Exception {
    Path file = keys("{\"api-keys\": [\n  {\"key\": \"sk-1\", \"tenant\": \"team-a\", \"tenant\": \"team-b\"}\n]}");
    String json = "; a keys file is JSON, {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}";
    assertEquals(file + ": not JSON (line 2, column 39): the member \"tenant\" appears twice in the object that begins at line 2,"
        + " column 3; give it once (which of two values is meant cannot be told)" + json, refusal(Files.readString(file)));
    // A second list would have dropped every key of the first.
    String twice = refusal("{\"api-keys\": [{\"key\": \"sk-1\", \"tenant\": \"a\"}],\n \"api-keys\": [{\"key\": \"sk-2\", \"tenant\": \"b\"}]}");
    assertTrue(twice.contains("(line 2, column 2): the member \"api-keys\" appears twice"), twice);
    // HOCON, which would merge a repeated key and keep the last value, is no keys file.
    assertEquals(file + ": not JSON (line 1, column 1): a word (not shown here, in case it is a key) is no JSON value (a string"
        + " is written in double quotes; the words JSON has are true, false and null)" + json,
        refusal("api-keys = [{key = \"sk-1\", tenant = a, tenant = b}]"));
    assertTrue(assertThrows(TenantSpec.NotJson.class, () -> TenantSpec.fromFile(keys("{\"api-keys\": [{\"key\": \"sk-1\","
        + " \"tenant\": ${USER}}]}"))).getMessage().contains("(line 1, column 41)"), "a substitution is no JSON either");
  }

  /** An empty file and a JSON value of the wrong kind are the file's text at fault (exit 1), as a body that is not JSON is. */
  @Test
  void anEmptyFileOrAValueOfTheWrongKindIsNotAKeysFile() throws Exception {
    Path file = dir.resolve("keys.json");
    assertEquals(file + ": the file is empty; a keys file is JSON, {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}",
        assertThrows(TenantSpec.NotJson.class, () -> TenantSpec.fromFile(keys(" \n"))).getMessage());
    assertEquals(file + ": expected {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}; found null",
        assertThrows(TenantSpec.NotJson.class, () -> TenantSpec.fromFile(keys("null"))).getMessage());
    assertTrue(refusal("[{\"key\": \"sk-1\", \"tenant\": \"a\\nWARN forged\"}]").endsWith("[0].tenant \"a\\nWARN forged\" has a"
        + " control character, which /metrics labels and log lines cannot carry; name the tenant with visible characters (and spaces)"));
    // One JSON leaves raw (U+0085, a line break to some readers) is shown escaped; U+2028 is refused as a line break too.
    assertTrue(refusal("[{\"key\": \"sk-1\", \"tenant\": \"a\u0085b\"}]").endsWith("[0].tenant \"a\\u0085b\" has a control"
        + " character, which /metrics labels and log lines cannot carry; name the tenant with visible characters (and spaces)"));
    assertTrue(refusal("[{\"key\": \"sk-1\", \"tenant\": \"a\u2028b\"}]").contains("[0].tenant \"a\\u2028b\" has a control"));
    assertEquals("team a", TenantSpec.fromFile(keys("[{\"key\": \"sk-1\", \"tenant\": \"team a\"}]")).get(0).tenant());
  }

  /** Two entries of one tenant share its limits: given differently, which applies is no guess to leave to the server. */
  @Test
  void aTenantGivenTwoLimitsIsRefusedNamingBothEntries() throws Exception {
    Path file = dir.resolve("keys.json");
    assertEquals(file + ": api-keys[1]: tenant team-a has max-concurrent 16 here and 2 in api-keys[0]; its keys share one limit:"
        + " give the same in both, or give it in one entry only", refusal("{\"api-keys\": [{\"key\": \"sk-1\", \"tenant\":"
        + " \"team-a\", \"max-concurrent\": 2}, {\"key\": \"sk-2\", \"tenant\": \"team-a\", \"max-concurrent\": 16}]}"));
    assertEquals(3, TenantSpec.fromFile(keys("[{\"key\": \"sk-1\", \"tenant\": \"a\", \"max-concurrent\": 2},"
        + " {\"key\": \"sk-2\", \"tenant\": \"a\"}, {\"key\": \"sk-3\", \"tenant\": \"a\", \"max-concurrent\": 2}]")).size(),
        "the same limit again, or none, is no conflict");
    // A 0 written out is unlimited, not left out (tester53b: 0 beside 2 ran with 2 for both keys), whichever comes first.
    assertEquals(file + ": [1]: tenant a has max-concurrent 0 (unlimited) here and 2 in [0]; its keys share one"
        + " limit: give the same in both, or give it in one entry only", refusal("[{\"key\": \"sk-1\", \"tenant\": \"a\","
        + " \"max-concurrent\": 2}, {\"key\": \"sk-2\", \"tenant\": \"a\", \"max-concurrent\": 0}]"));
    assertEquals(file + ": [2]: tenant a has tokens-per-minute 50 here and 0 (unlimited) in [0]; its keys share"
        + " one limit: give the same in both, or give it in one entry only", refusal("[{\"key\": \"sk-1\", \"tenant\": \"a\","
        + " \"tokens-per-minute\": 0}, {\"key\": \"sk-2\", \"tenant\": \"a\"}, {\"key\": \"sk-3\", \"tenant\": \"a\","
        + " \"tokens-per-minute\": 50}]"));
    assertEquals(2, TenantSpec.fromFile(keys("[{\"key\": \"sk-1\", \"tenant\": \"a\", \"max-concurrent\": 0},"
        + " {\"key\": \"sk-2\", \"tenant\": \"a\", \"max-concurrent\": 0}]")).size(), "0 in both is no conflict");
  }

  /**
   * Keys of two sources (the configuration's and a keys file) are checked across them as one list's
   * are: a tester's key given in both was billed to the file's tenant without a word, and a tenant
   * given two limits ran with the file's.
   */
  @Test
  void keysOfTwoSourcesAreCheckedAcrossThem() {
    List<TenantSpec> configured = List.of(new TenantSpec("sk-1", "zzz", 0, 0), new TenantSpec("sk-2", "team-a", 7, 0));
    List<TenantSpec> file = List.of(new TenantSpec("sk-1", "team-a", 2, 0));
    assertEquals("--api-keys keys.json: a key of tenant team-a is also in tandem.http.api-keys, there for tenant zzz; give each"
        + " key once", assertThrows(IllegalArgumentException.class,
            () -> TenantSpec.joined(configured, "tandem.http.api-keys", file, "--api-keys keys.json")).getMessage());
    List<TenantSpec> other = List.of(new TenantSpec("sk-3", "team-a", 2, 0));
    assertEquals("--api-keys keys.json: tenant team-a has max-concurrent 2 here and 7 in tandem.http.api-keys; its keys share"
        + " one limit: give the same in both, or give it in one only", assertThrows(IllegalArgumentException.class,
            () -> TenantSpec.joined(configured, "tandem.http.api-keys", other, "--api-keys keys.json")).getMessage());
    List<TenantSpec> agreeing = List.of(new TenantSpec("sk-3", "team-a", 0, 1000), new TenantSpec("sk-4", "team-b", 1, 0));
    assertEquals(4, TenantSpec.joined(configured, "tandem.http.api-keys", agreeing, "--api-keys keys.json").size(),
        "a limit given in one source only, or a tenant of one source only, is no conflict");
  }

  /** "unauthenticated" is the tenant label of answers sent before a key was accepted: a tenant of that name would mix with them. */
  @Test
  void aTenantMayNotTakeTheLabelOfUnauthenticatedAnswers() throws Exception {
    Path file = dir.resolve("keys.json");
    assertEquals(file + ": api-keys[0].tenant \"unauthenticated\" is the label that /metrics and the request log give answers"
        + " sent before a key was accepted (401s); name the tenant otherwise",
        refusal("{\"api-keys\": [{\"key\": \"sk-1\", \"tenant\": \"unauthenticated\"}]}"));
  }

  /** A key listed twice names the entry it repeats. */
  @Test
  void aKeyListedTwiceNamesTheEntryItRepeats() throws Exception {
    Path file = dir.resolve("keys.json");
    assertEquals(file + ": api-keys[2]: the same key as api-keys[0]; give each key once", refusal("{\"api-keys\": [{\"key\":"
        + " \"sk-1\", \"tenant\": \"a\"}, {\"key\": \"sk-2\", \"tenant\": \"b\"}, {\"key\": \"sk-1\", \"tenant\": \"c\"}]}"));
  }

  @Test
  void aValueThatCannotBeUsedIsNamedByTheFileTheEntryAndTheField() throws Exception {
    Map<String, String> refusals = new LinkedHashMap<>();
    String entry = "{\"key\": \"sk-1\", \"tenant\": \"t\", \"max-concurrent\": ";
    refusals.put(entry + "\"lots\"}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got a string (not shown here, in case it is a key)");
    refusals.put(entry + "1.5}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got 1.5");
    refusals.put(entry + "true}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got true");
    refusals.put(entry + "-1}", "api-keys[0].max-concurrent must be from 0 to 2147483647 (0: unlimited), got -1");
    refusals.put(entry + "3000000000}", "api-keys[0].max-concurrent must be from 0 to 2147483647 (0: unlimited), got 3000000000");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"t\", \"tokens-per-minute\": 99999999999999999999}",
        "api-keys[0].tokens-per-minute must be from 0 to 9223372036854775807 (0: unlimited), got 99999999999999999999");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"t\", \"tokens-per-minute\": [1]}",
        "api-keys[0].tokens-per-minute must be a whole number (0: unlimited), got a list");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"\"}", "api-keys[0].tenant is empty");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"  \"}", "api-keys[0].tenant is blank (white space only)");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"team-a \"}", "api-keys[0].tenant \"team-a \" has white space at its start"
        + " or end, which would make it another tenant than the one without it; write the name without it");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"team-a\\u00a0\"}", "api-keys[0].tenant \"team-a\u00a0\" has white space at its"
        + " start or end, which would make it another tenant than the one without it; write the name without it");
    refusals.put("{\"key\": {}, \"tenant\": \"t\"}", "api-keys[0].key must be a string, got an object");
    refusals.put("{\"key\": \"sk-1\"}", "api-keys[0]: 'tenant' is missing");
    refusals.put("{\"key\": null, \"tenant\": \"t\"}", "api-keys[0].key must be a string, got null");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": 5}", "api-keys[0].tenant must be a string, got 5");
    // Beyond a long, which HOCON reads as text (tester46a: both were taken).
    refusals.put("{\"key\": \"sk-1\", \"tenant\": 99999999999999999999}",
        "api-keys[0].tenant must be a string, got 99999999999999999999");
    refusals.put("{\"key\": 12345678901234567890, \"tenant\": \"t\"}", "api-keys[0].key is a number, not a string (the key is"
        + " not shown here); write the key in quotes: \"key\": \"...\"");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": null}", "api-keys[0].tenant must be a string, got null");
    refusals.put(entry + "\"2\"}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got the string \"2\"");
    refusals.put(entry + "null}", "api-keys[0].max-concurrent must be a whole number (0: unlimited), got null");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"t\", \"tokens-per-minute\": \"1000\"}",
        "api-keys[0].tokens-per-minute must be a whole number (0: unlimited), got the string \"1000\"");
    refusals.put("{\"key\": \"sk-1\", \"tenant\": \"t\", \"" + "x".repeat(100_000) + "\": 1}",
        "api-keys[0]: a field of another name (not shown here, in case it is a key); an entry has key, tenant, max-concurrent,"
            + " tokens-per-minute");
    refusals.put("5", "api-keys[0] must be an entry {\"key\": ..., \"tenant\": ..., \"max-concurrent\": ...,"
        + " \"tokens-per-minute\": ...}, got 5");
    for (var r : refusals.entrySet()) {
      Path file = dir.resolve("keys.json");
      assertEquals(file + ": " + r.getValue(), refusal("{\"api-keys\": [" + r.getKey() + "]}"), r.getKey());
    }
    Path file = dir.resolve("keys.json");
    assertEquals(file + ": api-keys must be a list of entries {\"key\": ..., \"tenant\": ..., \"max-concurrent\": ...,"
        + " \"tokens-per-minute\": ...}, got a string (not shown here, in case it is a key)", refusal("{\"api-keys\": \"sk-1\"}"));
    assertEquals(file + ": unknown key 'apikeys' (a keys file holds api-keys alone: {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]})",
        refusal("{\"api-keys\": [{\"key\": \"sk-1\", \"tenant\": \"t\"}], \"apikeys\": [{\"key\": \"sk-2\", \"tenant\": \"u\"}]}"),
        "a second list beside api-keys would be keys that never work");
    assertEquals(file + ": [1].max-concurrent must be a whole number (0: unlimited), got a string (not shown here, in case it is a key)",
        refusal("[{\"key\": \"a\", \"tenant\": \"t\"}, {\"key\": \"b\", \"tenant\": \"t\", \"max-concurrent\": \"lots\"}]"),
        "a file that is the list itself");
  }

  /** Who gives a keys file means to require keys: one that lists none must not start a server open to anyone. */
  @Test
  void aFileThatListsNoKeysIsRefused() throws Exception {
    Path file = dir.resolve("keys.json");
    String none = file + " lists no keys; add an entry {\"key\": ..., \"tenant\": ...} to its api-keys list, or give no keys file"
        + " to serve without keys (on 127.0.0.1 only)";
    assertEquals(none, refusal("{\"api-keys\": []}"));
    assertEquals(none, refusal("[]"));
    assertEquals(none, refusal("{\"api-keys\": {}}"));
  }

  /**
   * A key is sent as {@code Authorization: Bearer KEY}; one with a character a Bearer token may not
   * have (RFC 6750) is refused naming its entry, never showing the key, which messages would put in logs.
   */
  @Test
  void aKeyThatCannotBeABearerTokenIsRefusedNamingItsEntryNotTheKey() throws Exception {
    String rule = "may contain only letters A-Z and a-z, digits and - . _ ~ + /, then = at its end (a token of"
        + " 'Authorization: Bearer KEY', RFC 6750); its character ";
    String end = " (the key is not shown here); give the tenant a key of those characters, e.g. sk- and letters and digits";
    Map<String, String> refusals = new LinkedHashMap<>();
    refusals.put("sk 1 with space", "3 of 15 is a space");
    refusals.put("sk-tab\\there", "7 of 11 is a control or white-space character");
    refusals.put("sk-a=b", "5 of 6 is '=' before its end");
    refusals.put("==", "1 of 2 is '=' with nothing before it");
    refusals.put("sk-caf\u00e9", "7 of 7 is not one of them");
    refusals.put("sk,1", "3 of 4 is not one of them");
    Path file = dir.resolve("keys.json");
    for (var r : refusals.entrySet()) {
      String message = refusal("[{\"key\": \"sk-good\", \"tenant\": \"a\"}, {\"key\": \"" + r.getKey() + "\", \"tenant\": \"b\"}]");
      assertEquals(file + ": [1].key " + rule + r.getValue() + end, message, r.getKey());
    }
    for (String good : List.of("sk-AZaz09-._~+/", "dGVzdA==", "a"))
      assertEquals(good, TenantSpec.fromFile(keys("[{\"key\": \"" + good + "\", \"tenant\": \"a\"}]")).get(0).key());
    IllegalArgumentException made = assertThrows(IllegalArgumentException.class, () -> new TenantSpec("sk 1", "a", 0, 0));
    assertEquals("an API key " + rule + "3 of 4 is a space" + end, made.getMessage());
  }

  /**
   * A key written where it does not belong (a list of keys alone, a key as a field's name or a
   * limit, a key without quotes) is refused without its text in the message: startup errors go to
   * logs (tester51b: each of these quoted the key). Field and list names that are words still show.
   */
  @Test
  void aKeyWrittenInTheWrongPlaceIsNotShownInTheRefusal() throws Exception {
    String key = "sk-LEAK-0123456789abcdef";
    Map<String, String> refusals = new LinkedHashMap<>();
    refusals.put("[\"" + key + "\"]", "[0] must be an entry {\"key\": ..., \"tenant\": ..., \"max-concurrent\": ..., \"tokens-per-minute\":"
        + " ...}, got a string (not shown here, in case it is a key)");
    refusals.put("{\"api-keys\": \"" + key + "\"}", "api-keys must be a list of entries {\"key\": ..., \"tenant\": ...,"
        + " \"max-concurrent\": ..., \"tokens-per-minute\": ...}, got a string (not shown here, in case it is a key)");
    refusals.put("[{\"" + key + "\": \"team-a\"}]", "[0]: a field of another name (not shown here, in case it is a key); an entry"
        + " has key, tenant, max-concurrent, tokens-per-minute");
    refusals.put("[{\"key\": \"sk-1\", \"tenant\": \"a\", \"max-concurrent\": \"" + key + "\"}]", "[0].max-concurrent must be a"
        + " whole number (0: unlimited), got a string (not shown here, in case it is a key)");
    refusals.put("{\"api-keys\": {\"" + key + "\": \"a\"}}", "api-keys: a member of another name (not shown here, in case it is a"
        + " key) is not an entry number; number the entries 0, 1, 2, ... without leading zeros");
    refusals.put("{\"" + key + "\": []}", "expected {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}; found a member of another"
        + " name (not shown here, in case it is a key)");
    // Key and tenant swapped: the tenant would be shown on /metrics (tester52b).
    refusals.put("[{\"key\": \"team-a\", \"tenant\": \"" + key + "\"}]", "[0].tenant looks like an API key (not shown here): a"
        + " tenant is a name that /metrics, which needs no key, and the request log show; if key and tenant were swapped, swap"
        + " them back, else name the tenant in words (such as team-a)");
    refusals.put("[{\"key\": deadbeefLEAK0123456789, \"tenant\": \"a\"}]", "not JSON (line 1, column 10): a word (not shown here,"
        + " in case it is a key) is no JSON value (a string is written in double quotes; the words JSON has are true, false and"
        + " null); a keys file is JSON, {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}");
    Path file = dir.resolve("keys.json");
    for (var r : refusals.entrySet()) {
      String message = assertThrows(RuntimeException.class, () -> TenantSpec.fromFile(keys(r.getKey()))).getMessage();
      assertEquals(file + ": " + r.getValue(), message, r.getKey());
    }
    assertEquals(file + ": [0]: unknown field 'tennant'; an entry has key, tenant, max-concurrent, tokens-per-minute",
        refusal("[{\"key\": \"sk-1\", \"tennant\": \"a\"}]"), "a typo is named");
  }

  /**
   * A key written as a number reads as one ({@code 12345}, {@code 1.50}); a tool that rewrites the
   * file may write the number otherwise and the key would no longer match: refused by its entry,
   * without showing it, asking for quotes.
   */
  @Test
  void aKeyWrittenAsANumberIsRefusedNamingItsEntryAndAskingForQuotes() throws Exception {
    Path file = dir.resolve("keys.json");
    String quote = ", not a string (the key is not shown here); write the key in quotes: \"key\": \"...\"";
    for (String number : List.of("12345", "1.50", "1e3", "-5"))
      assertEquals(file + ": [1].key is a number" + quote,
          refusal("[{\"key\": \"sk-good\", \"tenant\": \"a\"}, {\"key\": " + number + ", \"tenant\": \"b\"}]"), number);
    assertEquals(file + ": api-keys[0].key is true or false" + quote, refusal("{\"api-keys\": [{\"key\": true, \"tenant\": \"b\"}]}"));
    assertEquals(List.of(new TenantSpec("12345", "42", 0, 0), new TenantSpec("0x1F", "b", 0, 0)),
        TenantSpec.fromFile(keys("[{\"key\": \"12345\", \"tenant\": \"42\"}, {\"key\": \"0x1F\", \"tenant\": \"b\"}]")));
  }
}
