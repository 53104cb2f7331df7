package io.tandem.protocol.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PaperConfigLoaderTest {

  private static Path resource(String name) throws URISyntaxException {
    return Path.of(PaperConfigLoaderTest.class.getResource("/config/" + name).toURI());
  }

  @Test
  void thePapersOwnYamlLoadsAsItIsAndEqualsThePaperDefaults() throws Exception {
    LoadedConfig loaded = PaperConfigLoader.loadYaml(resource("1b_32b.yml"));

    assertEquals(SpeculativeConfig.paperDefaults(), loaded.config());
    assertEquals(5, loaded.warnings().size(), loaded.warnings().toString());
    assertTrue(loaded.warnings().get(0).startsWith("1b_32b.yml: 'mode' is not used here"));
    assertTrue(loaded.warnings().stream().anyMatch(w -> w.contains("'target_model_gpu'")));
  }

  @Test
  void paperDefaultsAreThe1b32bValues() {
    SpeculativeConfig c = SpeculativeConfig.paperDefaults();
    assertEquals(List.of("\n\n"), c.triggerTokens());
    assertEquals(List.of("verify", "think again", "recap", "check"), c.verifyKeywords());
    assertEquals(List.of("wait", "alternatively", "hold on", "another"), c.negativeKeywords());
    assertEquals(List.of("yeah", "yes", "final answer", "confident"), c.positiveKeywords());
    assertNull(c.helpThinkWord());
    assertEquals("Let me check whether there are some wrong steps:", c.helpRecapWords());
    assertTrue(c.chooseLarge());
    assertFalse(c.notReasoning());
    assertEquals(20, c.maxTargetTokens());
    assertFalse(c.begin());
    assertEquals(100, c.beginTokenNum());
    assertEquals(125, c.originalRecapTokenNum());
    assertEquals(15, c.recapAfterNegativeNum());
    assertEquals(25, c.addEachRecap());
    assertEquals(5, c.addEachNeg());
    assertEquals(200, c.maxRecapTokenNum());
    assertEquals(30, c.maxNegativeNum());
    assertFalse(c.hasTimeOut());
    assertFalse(c.keepNeutralLookahead());
  }

  @Test
  void missingKeysTakeThePaperDefaults() {
    LoadedConfig loaded =
        PaperConfigLoader.parseYaml(
            "not_reasoning: true\nbegin: true\ntime_out: 300\nTARGET_VALIDATION_KEYWORDS:\n  positive: [\"ok\"]\n",
            "instruct.yml");
    SpeculativeConfig c = loaded.config();

    assertTrue(c.notReasoning());
    assertTrue(c.begin());
    assertEquals(300.0, c.timeOut());
    assertEquals(List.of("ok"), c.positiveKeywords());
    assertEquals(SpeculativeConfig.paperDefaults().verifyKeywords(), c.verifyKeywords());
    assertEquals(20, c.maxTargetTokens());
    assertTrue(loaded.warnings().isEmpty());
  }

  @Test
  void anEmptyFileIsThePaperDefaults() {
    assertEquals(SpeculativeConfig.paperDefaults(), PaperConfigLoader.parseYaml("", "empty.yml").config());
  }

  @Test
  void helpThinkWordAndKeepNeutralLookaheadAreRead() {
    SpeculativeConfig c =
        PaperConfigLoader.parseYaml("help_think_word: \"Hmm\"\nkeep_neutral_lookahead: true\n", "s.yml")
            .config();
    assertEquals("Hmm", c.helpThinkWord());
    assertTrue(c.keepNeutralLookahead());
  }

  @Test
  void aMisspeltKeyIsRefusedWithTheNearestKnownKey() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("max_target_token: 30\n", "speculative.yaml"));
    assertEquals(
        "speculative.yaml: unknown key 'max_target_token' (did you mean max_target_tokens?)",
        e.getMessage());
    assertEquals("max_target_token", e.key());
  }

  /**
   * YAML's infinity and NaN are valid YAML: refused as the key's bad value (a mistake in what was
   * given), not as a file that is not YAML (Jackson's YAML reader cannot read them as numbers).
   */
  @Test
  void yamlInfinityOrNaNIsTheKeysBadValueNotBadYaml() {
    InvalidConfigException inf =
        assertThrows(InvalidConfigException.class, () -> PaperConfigLoader.parseYaml("time_out: .inf\n", "s.yml"));
    assertEquals("s.yml: time_out must be a finite number, got .inf (YAML's infinity); for no time-out give 0",
        inf.getMessage());
    assertEquals("time_out", inf.key());
    InvalidConfigException nan =
        assertThrows(InvalidConfigException.class, () -> PaperConfigLoader.parseYaml("max_target_tokens: .NaN\n", "s.yml"));
    assertEquals("s.yml: max_target_tokens must be a finite number, got .NaN (YAML's NaN)", nan.getMessage());
    // Nearer to 0 than a double: read as 0 it was no time-out at all.
    assertEquals("s.yml: time_out must be a number of seconds (<= 0 for none), got 1E-400, too close to 0 for a 64-bit float;"
        + " write 0 for none", assertThrows(InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("time_out: 1e-400\n", "s.yml")).getMessage());
    assertEquals(0.5, PaperConfigLoader.parseYaml("time_out: 0.5\n", "s.yml").config().timeOut());
    assertEquals(0.0, PaperConfigLoader.parseYaml("time_out: 0.0e-400\n", "s.yml").config().timeOut());
  }

  @Test
  void aMisspeltKeywordGroupIsRefused() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () ->
                PaperConfigLoader.parseYaml(
                    "TARGET_VALIDATION_KEYWORDS:\n  negatve: [\"wait\"]\n", "speculative.yaml"));
    assertEquals(
        "speculative.yaml: unknown key 'TARGET_VALIDATION_KEYWORDS.negatve'"
            + " (did you mean TARGET_VALIDATION_KEYWORDS.negative?)",
        e.getMessage());
  }

  @Test
  void aNegativeBudgetIsRefused() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("max_target_tokens: -3\n", "speculative.yaml"));
    assertEquals("speculative.yaml: max_target_tokens must be >= 1, got -3", e.getMessage());

    e =
        assertThrows(
            InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("add_each_neg: -1\n", "speculative.yaml"));
    assertEquals("speculative.yaml: add_each_neg must be >= 0, got -1", e.getMessage());
  }

  @Test
  void aValueOfTheWrongTypeIsRefused() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("choose_large: \"maybe\"\n", "speculative.yaml"));
    assertEquals("speculative.yaml: choose_large must be true or false, got \"maybe\"", e.getMessage());

    e =
        assertThrows(
            InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("max_target_tokens: 20.5\n", "speculative.yaml"));
    assertEquals("speculative.yaml: max_target_tokens must be an integer, got 20.5", e.getMessage());

    e =
        assertThrows(
            InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("TRIGGER_TOKENS: \"\\n\\n\"\n", "speculative.yaml"));
    assertTrue(e.getMessage().startsWith("speculative.yaml: TRIGGER_TOKENS must be a list of strings"));
  }

  /** As a request's integers (vLLM's pydantic, lax): a whole number written with a fraction is the integer. */
  @Test
  void aWholeNumberWrittenWithAFractionIsAnInteger() {
    assertEquals(20, PaperConfigLoader.parseYaml("max_target_tokens: 20.0\n", "speculative.yaml").config().maxTargetTokens());
    assertEquals(30, SpeculativeConfig.paperDefaults().withOverrides(Map.of("max_target_tokens", 30.0)).maxTargetTokens());
  }

  /** A whole number too large for the setting is out of range, not "no integer", shown as written. */
  @Test
  void aWholeNumberBeyondAnIntIsOutOfRangeShownInPlainDigits() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("max_target_tokens: 3000000000\n", "speculative.yaml"));
    assertTrue(e.getMessage().endsWith("max_target_tokens must be an integer of at most 2147483647, got 3000000000"),
        e.getMessage());
    InvalidConfigException big = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("max_target_tokens: 1e20\n", "speculative.yaml"));
    assertTrue(big.getMessage().endsWith(", got 100000000000000000000"), big.getMessage());
  }

  @Test
  void theConfigObjectOfAJsonCaseFileLoads(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("x.case.json");
    Files.writeString(
        file,
        "{\"small\": [\"a\"], \"large\": [\"b\"], \"config\": {\"TRIGGER_TOKENS\": [\"\\n\\n\"],"
            + " \"help_think_word\": null, \"choose_large\": false, \"max_target_tokens\": 7,"
            + " \"time_out\": -1}}");
    LoadedConfig loaded = PaperConfigLoader.loadJsonCase(file);
    assertFalse(loaded.config().chooseLarge());
    assertEquals(7, loaded.config().maxTargetTokens());

    Files.writeString(file, "{\"config\": {\"max_target_tokns\": 7}}");
    InvalidConfigException e =
        assertThrows(InvalidConfigException.class, () -> PaperConfigLoader.loadJsonCase(file));
    assertEquals(
        "x.case.json: unknown key 'max_target_tokns' (did you mean max_target_tokens?)", e.getMessage());
  }

  /** A case's number nearer to 0 than a double is not read as 0 (the message said "got 0"). */
  @Test
  void aCaseNumberTooSmallForADoubleIsShownAsWritten(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("x.case.json"), "{\"config\": {\"max_target_tokens\": 1e-400}}");
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> PaperConfigLoader.loadJsonCase(file));
    assertEquals("x.case.json: max_target_tokens must be an integer, got 1E-400", e.getMessage());
  }

  /** An unknown key a file spells at length is quoted clipped, and not measured against every known key. */
  @Test
  void aLongUnknownKeyIsQuotedClipped() {
    String key = "k".repeat(200_000);
    InvalidConfigException e = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("? " + key + "\n: 1\n", "speculative.yaml")); // an explicit key: an implicit one is at most 1,024 characters
    assertTrue(e.getMessage().startsWith("speculative.yaml: unknown key '" + "k".repeat(64) + "...' (known keys: "), e.getMessage());
    assertTrue(e.getMessage().length() < 1_000, e.getMessage().length() + " characters");
    // Written plainly, YAML reads it as no key at all: the message says why.
    InvalidConfigException plain = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml(key + ": 1\n", "speculative.yaml"));
    assertTrue(plain.getMessage().endsWith("; a key longer than 1,024 characters is none in YAML"), plain.getMessage());
  }

  /** A newcomer's {@code mode: small} means Tandem's mode, which a config does not set: refused, not ignored. */
  @Test
  void aModeThatIsNotThePapersBackendIsRefusedPointingToTandemsMode() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("mode: small\n", "speculative.yaml"));
    assertEquals("speculative.yaml: mode must be the paper's backend, hf or vllm (which Tandem does not use), got \"small\";"
        + " Tandem's own mode (small, large or speculative) is generate's --mode, eval's --modes, a request's tandem.mode"
        + " or tandem.http.default-mode, not a config key", e.getMessage());
    assertEquals("mode", e.key());
    assertTrue(PaperConfigLoader.parseYaml("mode: hf\n", "speculative.yaml").warnings().get(0).contains("'mode' is not used here"));
  }

  /** Jackson reads an alias as its name's text: {@code *m} would be the string "m". */
  @Test
  void yamlAliasesAreRefusedNotReadAsTheirNames() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("x: &m 30\nmax_target_tokens: *m\n", "speculative.yaml"));
    assertEquals("speculative.yaml: line 2: the alias *m is not supported (Tandem reads YAML without anchors and aliases);"
        + " write the value out where the alias stands", e.getMessage());
    assertNull(e.key());
    assertEquals(30, PaperConfigLoader.parseYaml("max_target_tokens: &m 30\n", "speculative.yaml").config().maxTargetTokens());
  }

  /** PyYAML and Jackson keep a repeated key's last value: the first would be dropped without a word. */
  @Test
  void aKeyGivenTwiceIsRefusedNotReadAsTheLast() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("max_target_tokens: 20\ntime_out: 2\nmax_target_tokens: 40\n", "speculative.yaml"));
    assertEquals("speculative.yaml: line 3: the key max_target_tokens is given twice in one mapping; give it once (which of the"
        + " two values is meant cannot be told)", e.getMessage());
  }

  /** "null" or "~" alone is a document with no mapping: refused as an empty file is, not run on the defaults. */
  @Test
  void aNullDocumentIsRefused() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> PaperConfigLoader.parseYaml("~\n", "s.yaml"));
    assertEquals("s.yaml: the document holds no mapping of keys to values (it reads as null); give the keys to set, or no config"
        + " for the paper's defaults", e.getMessage());
    assertEquals(e.getMessage(), assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("---\n# only a comment\n", "s.yaml")).getMessage());
  }

  /** SnakeYAML's words for a line indented wrong name no indent: the hint does. */
  @Test
  void aLineIndentedWrongIsHintedAt() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> PaperConfigLoader.parseYaml(
        "TARGET_VALIDATION_KEYWORDS:\n  verify:\n    - wait\n   - check\n", "speculative.yaml"));
    assertTrue(e.getMessage().endsWith("; is a line indented more or less than the keys beside it?"), e.getMessage());
  }

  /** Jackson reads a stream's first document alone: a second one would be dropped without a word. */
  @Test
  void aSecondDocumentIsRefusedNotDropped() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("max_target_tokens: 5\n---\nmax_target_tokens: 50\n", "speculative.yaml"));
    assertEquals("speculative.yaml: line 3: a second YAML document (after a '---'); a speculative config is one document:"
        + " remove the '---' and merge the two, or keep one", e.getMessage());
    assertEquals(5, PaperConfigLoader.parseYaml("---\nmax_target_tokens: 5\n...\n", "speculative.yaml").config().maxTargetTokens(),
        "one document, its markers written out");
  }

  @Test
  void perRequestOverridesChangeOnlyTheirKeys() {
    SpeculativeConfig c =
        SpeculativeConfig.paperDefaults()
            .withOverrides(Map.of("max_target_tokens", 30, "choose_large", false, "time_out", 2.5));
    assertEquals(30, c.maxTargetTokens());
    assertFalse(c.chooseLarge());
    assertEquals(2.5, c.timeOut());
    assertEquals(125, c.originalRecapTokenNum());
  }

  @Test
  void perRequestOverridesAreCheckedLikeFiles() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () -> SpeculativeConfig.paperDefaults().withOverrides(Map.of("max_target_tokens", "30")));
    assertEquals("request: max_target_tokens must be an integer, got \"30\"", e.getMessage());

    e =
        assertThrows(
            InvalidConfigException.class,
            () -> SpeculativeConfig.paperDefaults().withOverrides(Map.of("chose_large", true)));
    assertEquals("request: unknown key 'chose_large' (did you mean choose_large?)", e.getMessage());

    e =
        assertThrows(
            InvalidConfigException.class,
            () -> SpeculativeConfig.paperDefaults().withOverrides(Map.of("target_model_name", "x")));
    assertTrue(e.getMessage().startsWith("request: 'target_model_name' selects a model"));
  }
}
