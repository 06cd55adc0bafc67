/**
 * `npm run setup-db`: creates the payments schema as it was before its first release with Baton
 * (DATABASE_URL, PAYMENTS_SCHEMA default "payments", SEED_USERS default 1000).
 */
import { setupDatabase } from "./database.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@localhost:5432/postgres";
const schema = process.env.PAYMENTS_SCHEMA ?? "payments";
await setupDatabase(url, schema, Number(process.env.SEED_USERS ?? 1000));
process.stdout.write(`schema ${schema} ready: users (id, name, user_email), payments\n`);
