package dev.lethe.cli;

/** Entry point of lethe.jar (placeholder until the CLI lands). */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.out.println("lethe");
  }
}
