// Runtime and backend detection: one place, one frozen description.
export * from "./backend.ts";
