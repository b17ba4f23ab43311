/**
 * A deterministic local stand-in for the seed's VIN decoding API (NHTSA-like):
 * the same VIN always decodes to the same vehicle, with a configurable
 * latency so the cache's effect is visible. Make from the WMI (first three
 * characters), model year from position 10, model picked from the VDS by a
 * stable hash, and the ISO 3779 check digit (position 9) verified.
 */

/** Letters I, O and Q never appear in a VIN. */
const VIN_RE = /^[A-HJ-NPR-Z0-9]{17}$/;

const WMI: Record<string, { make: string; country: string; models: string[] }> = {
  '1HG': { make: 'Honda', country: 'United States', models: ['Accord', 'Civic', 'CR-V', 'Pilot'] },
  JHM: { make: 'Honda', country: 'Japan', models: ['Accord', 'Civic', 'Fit', 'Insight'] },
  WBA: { make: 'BMW', country: 'Germany', models: ['3 Series', '5 Series', '7 Series', 'X5'] },
  WDB: { make: 'Mercedes-Benz', country: 'Germany', models: ['C-Class', 'E-Class', 'S-Class'] },
  WVW: { make: 'Volkswagen', country: 'Germany', models: ['Golf', 'Passat', 'Jetta', 'Polo'] },
  '1FA': { make: 'Ford', country: 'United States', models: ['Mustang', 'Focus', 'Fusion', 'Taurus'] },
  '1FT': { make: 'Ford', country: 'United States', models: ['F-150', 'F-250', 'Ranger'] },
  '1G1': { make: 'Chevrolet', country: 'United States', models: ['Malibu', 'Impala', 'Camaro', 'Cruze'] },
  '2T1': { make: 'Toyota', country: 'Canada', models: ['Corolla', 'Matrix'] },
  JTD: { make: 'Toyota', country: 'Japan', models: ['Prius', 'Yaris', 'Corolla'] },
  '5YJ': { make: 'Tesla', country: 'United States', models: ['Model S', 'Model 3', 'Model X', 'Model Y'] },
  VF1: { make: 'Renault', country: 'France', models: ['Clio', 'Megane', 'Captur'] },
  ZFA: { make: 'Fiat', country: 'Italy', models: ['500', 'Panda', 'Punto'] },
  KMH: { make: 'Hyundai', country: 'South Korea', models: ['Elantra', 'Sonata', 'i30'] },
};

// Position 10: A-Y without I, O, Q, U, Z, then 1-9 (a 30-year cycle).
const YEAR_CODES = 'ABCDEFGHJKLMNPRSTVWXY123456789';

const TRANSLITERATION: Record<string, number> = {
  A: 1,
  B: 2,
  C: 3,
  D: 4,
  E: 5,
  F: 6,
  G: 7,
  H: 8,
  J: 1,
  K: 2,
  L: 3,
  M: 4,
  N: 5,
  P: 7,
  R: 9,
  S: 2,
  T: 3,
  U: 4,
  V: 5,
  W: 6,
  X: 7,
  Y: 8,
  Z: 9,
};
const WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

export interface DecodedVin {
  vin: string;
  make: string | null;
  model: string | null;
  year: number | null;
  /** Everything the "API" said, stored as `vehicles.raw_data`. */
  raw: Record<string, unknown>;
}

export interface VinDecoder {
  decode(vin: string): Promise<DecodedVin>;
  /** Calls made so far (each one would have cost an API request). */
  readonly calls: number;
}

/** Uppercase, trimmed; `null` when it cannot be a VIN. */
export function normalizeVin(input: string): string | null {
  const vin = String(input ?? '')
    .trim()
    .toUpperCase();
  return VIN_RE.test(vin) ? vin : null;
}

/** The ISO 3779 check digit of a (normalised) VIN: '0'-'9' or 'X'. */
export function checkDigit(vin: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const c = vin[i]!;
    const value = c >= '0' && c <= '9' ? Number(c) : (TRANSLITERATION[c] ?? 0);
    sum += value * WEIGHTS[i]!;
  }
  const r = sum % 11;
  return r === 10 ? 'X' : String(r);
}

function stableHash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** Decode without latency or counting (what the stand-in API answers). */
export function decodeLocally(vin: string): DecodedVin {
  const wmi = WMI[vin.slice(0, 3)];
  const code = YEAR_CODES.indexOf(vin[9]!);
  // Position 7 alphabetic means the 2010-2039 cycle (North American rule), else 1980-2009.
  const year = code < 0 ? null : (/[A-Z]/.test(vin[6]!) ? 2010 : 1980) + code;
  const model = wmi ? wmi.models[stableHash(vin.slice(3, 8)) % wmi.models.length]! : null;
  return {
    vin,
    make: wmi?.make ?? null,
    model,
    year,
    raw: {
      VIN: vin,
      Make: wmi?.make ?? null,
      Model: model,
      ModelYear: year,
      PlantCountry: wmi?.country ?? null,
      WMI: vin.slice(0, 3),
      SerialNumber: vin.slice(11),
      CheckDigitValid: checkDigit(vin) === vin[8],
    },
  };
}

/** The stand-in decoder: `latencyMs` per call (default 0; the seed's API took 2-3 s). */
export function createLocalDecoder(options: { latencyMs?: number } = {}): VinDecoder {
  const latencyMs = options.latencyMs ?? 0;
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    async decode(vin) {
      calls++;
      const normal = normalizeVin(vin);
      if (!normal) throw new Error(`Not a VIN: ${JSON.stringify(vin)}`);
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      return decodeLocally(normal);
    },
  };
}
