package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class HttpSettingsTest {

  @Test
  void aSubSecondRetryAfterIsRoundedUpToAWholeSecondNotDroppedAndANegativeOneIsRefused() {
    assertEquals(1, HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.retry-after = 500ms").withFallback(ConfigFactory.load())).retryAfterSeconds());
    assertEquals(3, HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.retry-after = 2001ms").withFallback(ConfigFactory.load())).retryAfterSeconds());
    assertEquals(0, HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.retry-after = 0s").withFallback(ConfigFactory.load())).retryAfterSeconds());
    RuntimeException e = assertThrows(RuntimeException.class, () -> HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.retry-after = -1s").withFallback(ConfigFactory.load())));
    assertTrue(e.getMessage().contains("tandem.http.retry-after must be a duration from 0s up"), e.getMessage());
  }

  @Test
  void aNegativeShutdownDeadlineIsRefusedNamingTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.shutdown-deadline = -1s").withFallback(ConfigFactory.load())));
    assertTrue(e.getMessage().startsWith("tandem.http.shutdown-deadline and tandem.http.shutdown-grace must not be negative"), e.getMessage());
  }

  private static IllegalArgumentException refused(String hocon) {
    return assertThrows(IllegalArgumentException.class,
        () -> HttpSettings.fromConfig(ConfigFactory.parseString(hocon).withFallback(ConfigFactory.load())), hocon);
  }

  /** The message HttpSettings refuses {@code properties} with, given as -D options give them. */
  private static String refusedProperties(Map<String, String> properties) {
    Properties p = new Properties();
    p.putAll(properties);
    return assertThrows(IllegalArgumentException.class,
        () -> HttpSettings.fromConfig(ConfigFactory.parseProperties(p).withFallback(ConfigFactory.load())), properties.toString()).getMessage();
  }

  /**
   * request-timeout and idle-timeout take a duration above what a session may wait on its own
   * deadlines (310 s by default), or infinite: each value refused says so, whatever is wrong with it.
   */
  @Test
  void aServerTimeoutThatCannotBeUsedIsRefusedSayingWhatItTakes() {
    String takes = " must be a duration of more than 310 s and at most 21474835s (248 days, the longest delay Akka's scheduler"
        + " takes), like 1h, or infinite (none), got ";
    String why = "; a session may wait 310 s on its own deadlines (tandem.session.worker-wait + tandem.session.step-timeout, and the paper's"
        + " time_out), and a slow request must end with the session's answer, not a bare timeout";
    Map<String, String> refusals = new java.util.LinkedHashMap<>();
    refusals.put("0", "0 s");
    refusals.put("0s", "0 s");
    refusals.put("-5s", "-5 s");
    refusals.put("30s", "30 s");
    refusals.put("Infinite", "the string \"Infinite\"");
    refusals.put("inf", "the string \"inf\"");
    for (String key : List.of("request-timeout", "idle-timeout"))
      refusals.forEach((value, given) -> assertEquals("tandem.http." + key + takes + given + why,
          refusedProperties(Map.of("tandem.http." + key, value)), key + " = " + value));
    // A number above 0 without its unit is said so (tester59c: "more than 310 s ... got 400" read as a contradiction).
    for (String key : List.of("request-timeout", "idle-timeout"))
      assertEquals("tandem.http." + key + " must be a duration with its unit, like 400s or 400ms, got 400",
          refusedProperties(Map.of("tandem.http." + key, "400")), key);
    Properties p = new Properties();
    p.setProperty("tandem.http.idle-timeout", "infinite");
    p.setProperty("tandem.http.request-timeout", "infinite");
    p.setProperty("tandem.http.keep-alive-timeout", "infinite");
    HttpSettings s = HttpSettings.fromConfig(ConfigFactory.parseProperties(p).withFallback(ConfigFactory.load()));
    assertEquals(io.tandem.protocol.config.ConfigSection.INFINITE, s.idleTimeout(), "akka-http takes infinite for either");
    assertEquals(io.tandem.protocol.config.ConfigSection.INFINITE, s.requestTimeout());
    assertEquals(io.tandem.protocol.config.ConfigSection.INFINITE, s.keepAliveTimeout(), "as its neighbours, the keep-alive timeout too");
  }

  /**
   * A server timeout beyond what Akka's scheduler takes (about 248 days) is refused by the rule of
   * its key, which names that limit and infinite, not by one that leaves infinite out.
   */
  @Test
  void aServerTimeoutBeyondAkkasSchedulerIsRefusedNamingTheLimitAndInfinite() {
    for (String key : List.of("request-timeout", "idle-timeout"))
      assertEquals("tandem.http." + key + " must be a duration of more than 310 s and at most 21474835s (248 days, the longest"
          + " delay Akka's scheduler takes), like 1h, or infinite (none), got 300d; a session may wait 310 s on its own deadlines"
          + " (tandem.session.worker-wait + tandem.session.step-timeout, and the paper's time_out), and a slow request must end"
          + " with the session's answer, not a bare timeout", refusedProperties(Map.of("tandem.http." + key, "300d")), key);
    Properties p = new Properties();
    p.setProperty("tandem.http.request-timeout", "248d");
    assertEquals(java.time.Duration.ofDays(248),
        HttpSettings.fromConfig(ConfigFactory.parseProperties(p).withFallback(ConfigFactory.load())).requestTimeout());
  }

  /**
   * When a session may wait longer than Akka's scheduler takes, no duration exceeds that and is
   * within it: infinite is the one value the refusal offers.
   */
  @Test
  void whenASessionMayWaitBeyondAkkasSchedulerOnlyInfiniteIsOffered() {
    String message = refusedProperties(Map.of("tandem.session.worker-wait", "200d", "tandem.session.step-timeout", "100d",
        "tandem.http.request-timeout", "240d"));
    assertEquals("tandem.http.request-timeout must be infinite (none), got 20736000 s; a session may wait 25920000 s on its own"
        + " deadlines (tandem.session.worker-wait + tandem.session.step-timeout, and the paper's time_out), more than 21474835s"
        + " (248 days, the longest delay Akka's scheduler takes), and a slow request must end with the session's answer, not a"
        + " bare timeout", message);
    String nearTheLimit = refusedProperties(Map.of("tandem.session.worker-wait", "21474000s", "tandem.session.step-timeout", "100s",
        "tandem.http.request-timeout", "1h"));
    assertTrue(nearTheLimit.startsWith("tandem.http.request-timeout must be a duration of more than 21474100 s and at most 21474835s"
        + " (248 days, the longest delay Akka's scheduler takes), like 21474835s, or infinite (none), got 3600 s;"), nearTheLimit);
    Properties p = new Properties();
    p.putAll(Map.of("tandem.session.worker-wait", "200d", "tandem.session.step-timeout", "100d",
        "tandem.http.request-timeout", "infinite", "tandem.http.idle-timeout", "infinite"));
    assertEquals(io.tandem.protocol.config.ConfigSection.INFINITE,
        HttpSettings.fromConfig(ConfigFactory.parseProperties(p).withFallback(ConfigFactory.load())).requestTimeout());
  }

  /** A system property cannot carry a list: entries given by index make the list, as for tandem.ROLE.devices. */
  @Test
  void apiKeysCanBeGivenOneSystemPropertyAtATime() {
    Properties p = new Properties();
    p.setProperty("tandem.http.api-keys.0.key", "sk-1");
    p.setProperty("tandem.http.api-keys.0.tenant", "team-a");
    p.setProperty("tandem.http.api-keys.1.key", "sk-2");
    p.setProperty("tandem.http.api-keys.1.tenant", "team-b");
    p.setProperty("tandem.http.api-keys.1.max-concurrent", "2");
    HttpSettings s = HttpSettings.fromConfig(ConfigFactory.parseProperties(p).withFallback(ConfigFactory.load()));
    assertEquals(List.of(new TenantSpec("sk-1", "team-a", 0, 0), new TenantSpec("sk-2", "team-b", 2, 0)), s.tenants());
    assertEquals("tandem.http.api-keys must be a list of entries {\"key\": ..., \"tenant\": ..., \"max-concurrent\": ...,"
        + " \"tokens-per-minute\": ...}, got a string (not shown here, in case it is a key)", refused("tandem.http.api-keys = sk-1").getMessage());
  }

  /** An entry is named by the index its properties give it, not by its place among the entries given. */
  @Test
  void anApiKeyEntryGivenByIndexIsNamedByThatIndex() {
    Properties p = new Properties();
    p.setProperty("tandem.http.api-keys.1.key", "sk-2");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> HttpSettings.fromConfig(ConfigFactory.parseProperties(p).withFallback(ConfigFactory.load())));
    assertEquals("tandem.http.api-keys[1]: 'tenant' is missing", e.getMessage());
    p.setProperty("tandem.http.api-keys.1.tenant", "team-b");
    p.setProperty("tandem.http.api-keys.3.key", "sk-2");
    p.setProperty("tandem.http.api-keys.3.tenant", "team-c");
    e = assertThrows(IllegalArgumentException.class,
        () -> HttpSettings.fromConfig(ConfigFactory.parseProperties(p).withFallback(ConfigFactory.load())));
    assertEquals("tandem.http.api-keys[3]: the same key as tandem.http.api-keys[1]; give each key once", e.getMessage());
  }

  /**
   * An entry's number is written one way: {@code api-keys.01} and {@code api-keys.1} would read as
   * one entry, one key dropped without a word, so a number not written as one is refused by name.
   */
  @Test
  void anApiKeyEntryNumberNotWrittenAsOneIsRefusedByName() {
    assertEquals("tandem.http.api-keys.01: '01' is not an entry number; number the entries 0, 1, 2, ... without leading"
        + " zeros, as in -Dtandem.http.api-keys.0.key=sk-... -Dtandem.http.api-keys.0.tenant=NAME",
        refusedProperties(Map.of("tandem.http.api-keys.01.key", "sk-aaa", "tandem.http.api-keys.01.tenant", "a",
            "tandem.http.api-keys.1.key", "sk-bbb", "tandem.http.api-keys.1.tenant", "b")));
    for (String index : List.of("-1", "a", "1000000000000000000")) {
      String message = refusedProperties(Map.of("tandem.http.api-keys." + index + ".key", "sk-aaa",
          "tandem.http.api-keys." + index + ".tenant", "a"));
      assertTrue(message.startsWith("tandem.http.api-keys." + index + ": '" + index + "' is not an entry number"), message);
    }
    // An entry written without the list around it is still named as such.
    assertEquals("tandem.http.api-keys must be a list of entries {\"key\": ..., \"tenant\": ..., \"max-concurrent\": ...,"
        + " \"tokens-per-minute\": ...}, got an object", refused("tandem.http.api-keys { key = sk-1, tenant = t }").getMessage());
  }

  /** Typesafe Config's getInt reads 0.5 as 0, which for max-in-flight is "no limit": refused as given. */
  @Test
  void aCountGivenWithAFractionIsRefusedNotCut() {
    assertEquals("tandem.http.max-in-flight must be a whole number, got 0.5", refused("tandem.http.max-in-flight = 0.5").getMessage());
    assertEquals("tandem.http.port must be a whole number, got 18253.9", refused("tandem.http.port = 18253.9").getMessage());
    assertEquals("tandem.http.max-max-tokens must be a whole number, got 0.9", refused("tandem.http.max-max-tokens = 0.9").getMessage());
  }

  /** Typesafe Config reads a bare number as milliseconds: shutdown-deadline = 30 would give a request 30 ms to finish. */
  @Test
  void aDurationWithoutItsUnitIsRefused() {
    assertEquals("tandem.http.shutdown-deadline must be a duration with its unit, like 30s or 30ms, got 30",
        refused("tandem.http.shutdown-deadline = 30").getMessage());
    assertEquals("tandem.session.worker-wait must be a duration with its unit, like 10s or 10ms, got 10",
        refused("tandem.session.worker-wait = 10").getMessage());
  }

  @Test
  void aValueThatIsNotOfItsTypeIsNamedByItsFullKey() {
    assertEquals("tandem.http.max-body-size must be a size in bytes, like 512MiB or 2GiB, got the string \"lots\"",
        refused("tandem.http.max-body-size = lots").getMessage());
    assertEquals("tandem.http.ask-timeout must be a duration, like 30s, 500ms or 2m, got the string \"soon\"",
        refused("tandem.http.ask-timeout = soon").getMessage());
    assertEquals("tandem.http.port must be a number, got the string \"x\"", refused("tandem.http.port = x").getMessage());
    assertEquals("tandem.http.max-in-flight must be a number, got a list", refused("tandem.http.max-in-flight = [8, 16]").getMessage());
    assertEquals("tandem.http.api-keys[0].max-concurrent must be a whole number (0: unlimited), got a string (not shown here, in case it is a key)",
        refused("tandem.http.api-keys = [{key = k, tenant = t, max-concurrent = many}]").getMessage());
    assertEquals("tandem.session.worker-wait must be a duration, like 30s, 500ms or 2m, got the string \"never\"",
        refused("tandem.session.worker-wait = never").getMessage(), "the sessions' settings, read on the way, name theirs");
  }

  @Test
  void aNumberOutOfItsRangeIsRefusedNamingTheKeyTheValueAndTheRange() {
    Map<String, String> refusals = Map.of(
        "tandem.http.max-in-flight = -1", "tandem.http.max-in-flight must be from 0 to 2147483647 (0: no limit), got -1",
        "tandem.http.port = 70000", "tandem.http.port must be from 0 to 65535 (0 picks a free one), got 70000",
        "tandem.http.max-body-size = 3GiB",
        "tandem.http.max-body-size must be from 1 to 2147483647 (bytes; a body is held in memory whole), got 3221225472",
        "tandem.http.max-body-size = 0", "tandem.http.max-body-size must be from 1 to 2147483647 (bytes; a body is held in memory whole), got 0",
        "tandem.http.default-max-tokens = 200000",
        "tandem.http.default-max-tokens must be from 0 to 131072 (0: what fits in the context, as vLLM's default; at most"
            + " tandem.http.max-max-tokens), got 200000",
        "tandem.http.max-max-tokens = 0", "tandem.http.max-max-tokens must be from 1 to 2147483647, got 0",
        "tandem.http.count-timeout = 0s", "tandem.http.count-timeout must be a positive duration, got 0s",
        "tandem.session.step-timeout = -1s", "tandem.session.step-timeout must be a positive duration, got -1s",
        "tandem.http.keep-alive-timeout = -5s", "tandem.http.keep-alive-timeout must be a positive duration or infinite, got -5s");
    refusals.forEach((hocon, message) -> assertEquals(message, refused(hocon).getMessage()));
  }
}
