package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Numbers as Go's protojson (grpcurl) writes them, strings untouched. */
class GoNumbersTest {
  @Test
  void numbersAsGoWritesThem() {
    assertEquals("0.0001", GoNumbers.number("1.0E-4"));
    assertEquals("1", GoNumbers.number("1.0"));
    assertEquals("0.001", GoNumbers.number("0.001"));
    assertEquals("-0.5", GoNumbers.number("-0.5"));
    assertEquals("1e-07", GoNumbers.number("1.0E-7"));
    assertEquals("2.5e+21", GoNumbers.number("2.5E21"));
    assertEquals("-1.25e-10", GoNumbers.number("-1.25E-10"));
    assertEquals("0.025783668865645287", GoNumbers.number("0.025783668865645287"));
    assertEquals("0", GoNumbers.number("0.0"));
    assertEquals("12", GoNumbers.number("12"));
  }

  @Test
  void stringsAreLeftAlone() {
    assertEquals("{\n  \"request_id\": \"a: 1.0E-4, \\\"2.0\\\"\",\n  \"l2\": 0.0001,\n  \"x\": [1, 0.5]\n}",
        GoNumbers.reformat(
            "{\n  \"request_id\": \"a: 1.0E-4, \\\"2.0\\\"\",\n  \"l2\": 1.0E-4,\n  \"x\": [1.0, 0.5]\n}"));
  }
}
