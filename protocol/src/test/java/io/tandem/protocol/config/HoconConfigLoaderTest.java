package io.tandem.protocol.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

class HoconConfigLoaderTest {

  @Test
  void referenceConfHoldsThePaperDefaults() {
    assertEquals(
        SpeculativeConfig.paperDefaults(), SpeculativeConfig.fromHocon(ConfigFactory.empty()));
    assertEquals(
        SpeculativeConfig.paperDefaults(),
        SpeculativeConfig.fromHocon(ConfigFactory.defaultReference()));
  }

  @Test
  void applicationSettingsOverrideTheDefaults() {
    SpeculativeConfig c =
        SpeculativeConfig.fromHocon(
            ConfigFactory.parseString(
                "tandem.speculative { trigger-tokens = [\"\\n\\n\", \"Wait\"], max-target-tokens = 30,"
                    + " help-think-word = \"Hmm\", keep-neutral-lookahead = on, time-out = 5 minutes }"));
    assertEquals(List.of("\n\n", "Wait"), c.triggerTokens());
    assertEquals(30, c.maxTargetTokens());
    assertEquals("Hmm", c.helpThinkWord());
    assertTrue(c.keepNeutralLookahead());
    assertEquals(300.0, c.timeOut());
    assertEquals(125, c.originalRecapTokenNum());
  }

  @Test
  void timeOutInPlainSecondsIsRead() {
    SpeculativeConfig c =
        SpeculativeConfig.fromHocon(ConfigFactory.parseString("tandem.speculative.time-out = 12.5"));
    assertEquals(12.5, c.timeOut());
  }

  /** A -D option gives the string "300": seconds, as the number 300 in a file is, not 300 ms as a duration. */
  @Test
  void timeOutInPlainSecondsFromASystemPropertyIsSeconds() {
    assertEquals(300.0, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "300")).timeOut());
    assertEquals(2.5, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "2.5")).timeOut());
    assertEquals(120.0, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "2m")).timeOut());
    // A unit letter that Java's number parser would also read (0.05d, a double literal) is Typesafe Config's unit.
    assertEquals(4320.0, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "0.05d")).timeOut(), 1e-9);
    assertEquals(1.5e3, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "1.5e3")).timeOut());
    for (String notADuration : new String[] {"0.1f", "0x1p-4"})
      assertThrows(InvalidConfigException.class,
          () -> SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", notADuration)), notADuration);
  }

  /** The session schedules time-out as an Akka timer: over Akka's longest delay, refused by its full key. */
  @Test
  void aTimeOutBeyondAkkasLongestDelayIsRefused() {
    for (String v : new String[] {"1000000000", "21474836", "300000000s"}) {
      InvalidConfigException e = assertThrows(InvalidConfigException.class,
          () -> SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", v)));
      assertTrue(e.getMessage().startsWith("system properties: tandem.speculative.time-out must be a "), e.getMessage());
      assertTrue(e.getMessage().contains(" at most 21474835s (248 days"), e.getMessage());
      assertEquals("tandem.speculative.time-out", e.key());
    }
    assertEquals(21474835.0, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "21474835")).timeOut());
    // Beside a file's settings, the value at fault is named by its own origin, not the section's merged ones.
    com.typesafe.config.Config withFile = systemProperty("tandem.speculative.time-out", "21474836").withFallback(
        ConfigFactory.parseString("tandem.speculative.max-target-tokens = 20",
            com.typesafe.config.ConfigParseOptions.defaults().setOriginDescription("application.conf")));
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(withFile));
    assertTrue(e.getMessage().startsWith("system properties: tandem.speculative.time-out must be "), e.getMessage());
    assertEquals("system properties: tandem.speculative.time-out must be a number of seconds (<= 0 for none), got a number"
        + " beyond a 64-bit float's range", assertThrows(InvalidConfigException.class,
            () -> SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "1e400"))).getMessage());
    // Read as 0 it was no time-out at all.
    assertEquals("system properties: tandem.speculative.time-out must be a number of seconds or a duration (<= 0 for none), got"
        + " 1e-400, which is not 0 but reads as 0 (under a nanosecond, or too close to 0 for a 64-bit float); write 0 for none,"
        + " or a longer time-out", assertThrows(InvalidConfigException.class,
            () -> SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "1e-400"))).getMessage());
    assertEquals(0.0, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "0e-400")).timeOut());
    for (String shortest : new String[] {"1e-400s", "1e-10s", "0.1ns"})
      assertTrue(assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(systemProperty(
          "tandem.speculative.time-out", shortest))).getMessage().contains("got " + shortest + ", which is not 0 but reads as 0"),
          shortest);
    assertEquals(1e-9, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "1ns")).timeOut());
    assertEquals(0.0, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.time-out", "0s")).timeOut());
  }

  /** Typesafe Config's getInt reads 1.5 as 1: a budget given with a fraction is refused as given. */
  @Test
  void aWholeNumberGivenWithAFractionIsRefused() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        systemProperty("tandem.speculative.max-target-tokens", "1.5")));
    assertEquals("system properties: tandem.speculative.max-target-tokens must be a whole number, got 1.5", e.getMessage());
    assertEquals("tandem.speculative.max-target-tokens", e.key());
  }

  @Test
  void aMisspeltKeyIsRefusedWithTheNearestKnownKey() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () ->
                SpeculativeConfig.fromHocon(
                    ConfigFactory.parseString(
                        "tandem.speculative.max-target-token = 3",
                        com.typesafe.config.ConfigParseOptions.defaults().setOriginDescription("application.conf"))));
    assertTrue(
        e.getMessage()
            .matches(
                "application\\.conf.*: unknown key 'tandem\\.speculative\\.max-target-token'"
                    + " \\(did you mean tandem\\.speculative\\.max-target-tokens\\?\\)"),
        e.getMessage());
  }

  @Test
  void aNegativeBudgetIsRefusedWithTheHoconKeyName() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () ->
                SpeculativeConfig.fromHocon(
                    ConfigFactory.parseString(
                        "tandem.speculative.max-target-tokens = -3",
                        com.typesafe.config.ConfigParseOptions.defaults().setOriginDescription("application.conf"))));
    assertTrue(
        e.getMessage().startsWith("application.conf")
            && e.getMessage().endsWith(": tandem.speculative.max-target-tokens must be >= 1, got -3"),
        e.getMessage());
  }

  @Test
  void aValueOfTheWrongTypeIsRefused() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () ->
                SpeculativeConfig.fromHocon(
                    ConfigFactory.parseString("tandem.speculative.choose-large = maybe")));
    assertTrue(e.getMessage().contains("tandem.speculative.choose-large"), e.getMessage());
  }

  /** {@code -DKEY=VALUE} as Typesafe Config reads it: a string from "system properties". */
  private static com.typesafe.config.Config systemProperty(String key, String value) {
    java.util.Properties p = new java.util.Properties();
    p.setProperty(key, value);
    return ConfigFactory.parseProperties(p, com.typesafe.config.ConfigParseOptions.defaults().setOriginDescription("system properties"));
  }

  /** A system property is a string: "null" there is the null reference.conf says turns a think word off (tester53c). */
  @Test
  void nullFromASystemPropertyTurnsAThinkWordOff() {
    assertEquals(null, SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.help-think-word", "null")).helpThinkWord());
    assertEquals("Hmm", SpeculativeConfig.fromHocon(systemProperty("tandem.speculative.help-think-word", "Hmm")).helpThinkWord());
  }

  /** A null where a value is needed names the key and its place, as a value of the wrong type does (tester53e: exit 1, unplaced). */
  @Test
  void aNullWhereAValueIsNeededIsRefusedNamingItsKey() {
    InvalidConfigException count = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        ConfigFactory.parseString("tandem.speculative.max-target-tokens = null",
            com.typesafe.config.ConfigParseOptions.defaults().setOriginDescription("s.conf"))));
    assertEquals("s.conf: 1: tandem.speculative.max-target-tokens must be a whole number, got null", count.getMessage());
    InvalidConfigException list = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        ConfigFactory.parseString("tandem.speculative.trigger-tokens = null")));
    assertEquals(true, list.getMessage().endsWith("tandem.speculative.trigger-tokens must be a list of strings, like [a, b], got"
        + " null"), list.getMessage());
    // A null entry of a list, in a file or from a -D option, named with its index (tester53h).
    InvalidConfigException entry = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        ConfigFactory.parseString("tandem.speculative.trigger-tokens = [\"\\n\\n\", null]")));
    assertEquals(true, entry.getMessage().endsWith("tandem.speculative.trigger-tokens[1] must be a string, got null"),
        entry.getMessage());
    InvalidConfigException fromD = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        systemProperty("tandem.speculative.trigger-tokens.3", "null")));
    assertEquals("system properties: an entry of tandem.speculative.trigger-tokens (-Dtandem.speculative.trigger-tokens.N)"
        + " must be a string, got null", fromD.getMessage());
    // A recap is no optional word: "null" from a -D option is refused, not injected as text.
    InvalidConfigException recap = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        systemProperty("tandem.speculative.help-recap-words", "null")));
    assertEquals("system properties: tandem.speculative.help-recap-words must be a string (it cannot be turned off), got null",
        recap.getMessage());
  }

  @Test
  void aValueOfTheWrongTypeNamesItsSourceOnceTheKeyWhatItTakesAndTheValue() {
    InvalidConfigException number = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        systemProperty("tandem.speculative.max-target-tokens", "lots")));
    assertEquals("system properties: tandem.speculative.max-target-tokens must be a number, got the string \"lots\"",
        number.getMessage());
    InvalidConfigException duration = assertThrows(InvalidConfigException.class, () -> SpeculativeConfig.fromHocon(
        systemProperty("tandem.speculative.time-out", "soon")));
    assertEquals("system properties: tandem.speculative.time-out must be a duration, like 30s, 500ms or 2m, got the string"
        + " \"soon\"", duration.getMessage());
  }
}
