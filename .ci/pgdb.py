"""Create or drop a PostgreSQL database for one CI run: `pgdb.py create|drop NAME`."""

import asyncio
import sys

import asyncpg


async def main(action: str, name: str) -> None:
    connection = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
    try:
        if action == "create":
            await connection.execute(f'CREATE DATABASE "{name}"')
        else:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


asyncio.run(main(sys.argv[1], sys.argv[2]))
